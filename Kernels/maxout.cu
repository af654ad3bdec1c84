// maxout.cu — maxout and L2 normalisation over the middle axis of an (outer, C, inner) view.
//   maxout_forward_{f32,f64}(const T* x, T* y, int outer, int C, i64 inner, int groupSize)
//       y[o, g, i] = x[o, g * groupSize + k*, i], k* the first maximum of the group (strict >, as the CPU).
//   maxout_backward_{f32,f64}(const T* x, const T* dy, T* dx, int outer, int C, i64 inner, int groupSize)
//       dx = dy at each group's first maximum, 0 elsewhere (every dx element written: no clear needed).
//       Launch for both: 1-D grid-stride over the outer * (C / groupSize) * inner outputs, block 256.
//   l2norm_forward_{f32,f64}(const T* x, T* y, int outer, int C, i64 inner, double eps)
//       y = x / max(||x_row||, eps) over the C elements of each (o, i) row (norm in double).
//   l2norm_backward_{f32,f64}(const T* y, const T* x, const T* dy, T* dx, int outer, int C, i64 inner, double eps)
//       norm <= eps: dx = dy / eps; else dx = (dy - y (dy . y)) / norm.
//       Launch for both: 1-D grid-stride over the outer * inner rows, block 256 (one thread per row).
// Layouts: contiguous.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void maxout_impl(const T* x, const T* yOrDy, T* out, int outer, int C, i64 inner, int groupSize, bool backward)
{
    const int groups = C / groupSize;
    const i64 total = (i64)outer * groups * inner;
    KILN_GRID_STRIDE(k, total)
    {
        i64 o = k / (groups * inner), r = k - o * groups * inner;
        int g = (int)(r / inner);
        i64 i = r - (i64)g * inner;
        i64 first = (o * C + (i64)g * groupSize) * inner + i, best = first;
        for (int m = 1; m < groupSize; m++)
        {
            i64 j = first + m * inner;
            if (x[j] > x[best]) best = j;
        }
        if (backward)
            for (int m = 0; m < groupSize; m++) { i64 j = first + m * inner; out[j] = j == best ? yOrDy[k] : (T)0; }
        else out[k] = x[best];
    }
}

template <typename T>
__device__ __forceinline__ void l2norm_impl(const T* x, const T* y, const T* dy, T* out, int outer, int C, i64 inner, double eps, bool backward)
{
    const i64 rows = (i64)outer * inner;
    KILN_GRID_STRIDE(r, rows)
    {
        i64 o = r / inner, i = r - o * inner;
        i64 b = o * C * inner + i;
        double ss = 0.0;
        for (int c = 0; c < C; c++) { double v = (double)x[b + c * inner]; ss += v * v; }
        double norm = sqrt(ss);
        if (!backward)
        {
            T inv = (T)(1.0 / fmax(norm, eps));
            for (int c = 0; c < C; c++) out[b + c * inner] = x[b + c * inner] * inv;
        }
        else if (norm <= eps)
        {
            T inv = (T)(1.0 / eps);
            for (int c = 0; c < C; c++) out[b + c * inner] = dy[b + c * inner] * inv;
        }
        else
        {
            double dot = 0.0;
            for (int c = 0; c < C; c++) dot += (double)(dy[b + c * inner] * y[b + c * inner]);
            T tdot = (T)dot, tinv = (T)(1.0 / norm);
            for (int c = 0; c < C; c++) { i64 j = b + c * inner; out[j] = (dy[j] - y[j] * tdot) * tinv; }
        }
    }
}

extern "C" __global__ void maxout_forward_f32(const float* x, float* y, int outer, int C, i64 inner, int groupSize) { maxout_impl(x, (const float*)0, y, outer, C, inner, groupSize, false); }
extern "C" __global__ void maxout_forward_f64(const double* x, double* y, int outer, int C, i64 inner, int groupSize) { maxout_impl(x, (const double*)0, y, outer, C, inner, groupSize, false); }
extern "C" __global__ void maxout_backward_f32(const float* x, const float* dy, float* dx, int outer, int C, i64 inner, int groupSize) { maxout_impl(x, dy, dx, outer, C, inner, groupSize, true); }
extern "C" __global__ void maxout_backward_f64(const double* x, const double* dy, double* dx, int outer, int C, i64 inner, int groupSize) { maxout_impl(x, dy, dx, outer, C, inner, groupSize, true); }
extern "C" __global__ void l2norm_forward_f32(const float* x, float* y, int outer, int C, i64 inner, double eps) { l2norm_impl(x, (const float*)0, (const float*)0, y, outer, C, inner, eps, false); }
extern "C" __global__ void l2norm_forward_f64(const double* x, double* y, int outer, int C, i64 inner, double eps) { l2norm_impl(x, (const double*)0, (const double*)0, y, outer, C, inner, eps, false); }
extern "C" __global__ void l2norm_backward_f32(const float* y, const float* x, const float* dy, float* dx, int outer, int C, i64 inner, double eps) { l2norm_impl(x, y, dy, dx, outer, C, inner, eps, true); }
extern "C" __global__ void l2norm_backward_f64(const double* y, const double* x, const double* dy, double* dx, int outer, int C, i64 inner, double eps) { l2norm_impl(x, y, dy, dx, outer, C, inner, eps, true); }
