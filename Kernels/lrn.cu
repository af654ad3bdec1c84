// lrn.cu — cross-channel local response normalisation, the CPU backend's formula, for the cases cuDNN
// cannot express (even window sizes place the window differently, n > 16, beta < 0.01, k < 1e-5).
//   lrn_forward_{f32,f64}(const T* x, T* y, T* scale, int N, int C, i64 HW, int size, double alpha, double beta, double k)
//       scale = k + alpha * Σ x[c']² over c' in [c - size/2, c + (size-1)/2] ∩ [0, C); y = x * scale^-beta
//       (alpha is the per-term coefficient, already divided by size where the convention says so).
//   lrn_backward_{f32,f64}(const T* x, const T* y, const T* scale, const T* dy, T* dx, int N, int C, i64 HW,
//                         int size, double alpha, double beta)
//       dx = dy * scale^-beta - 2 alpha beta x Σ dy[c'] y[c'] / scale[c'] over c' in [c - (size-1)/2, c + size/2].
// Layout (N, C, H, W) contiguous. Launch: 1-D grid-stride over N*C*HW, block 256.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void lrn_forward_impl(const T* x, T* y, T* scale, int N, int C, i64 HW, int size, double alpha, double beta, double k)
{
    const i64 chw = (i64)C * HW, total = (i64)N * chw;
    KILN_GRID_STRIDE(i, total)
    {
        i64 n = i / chw, r = i - n * chw;
        int c = (int)(r / HW);
        i64 p = r - (i64)c * HW;
        int lo = max(0, c - size / 2), hi = min(C - 1, c + (size - 1) / 2);
        const T* base = x + n * chw + p;
        T ss = (T)0;
        for (int j = lo; j <= hi; j++) { T v = base[(i64)j * HW]; ss += v * v; }
        T s = (T)k + (T)alpha * ss;
        scale[i] = s;
        y[i] = x[i] * pow(s, (T)(-beta));
    }
}

template <typename T>
__device__ __forceinline__ void lrn_backward_impl(const T* x, const T* y, const T* scale, const T* dy, T* dx,
                                                  int N, int C, i64 HW, int size, double alpha, double beta)
{
    const i64 chw = (i64)C * HW, total = (i64)N * chw;
    KILN_GRID_STRIDE(i, total)
    {
        i64 n = i / chw, r = i - n * chw;
        int c = (int)(r / HW);
        i64 p = r - (i64)c * HW;
        int lo = max(0, c - (size - 1) / 2), hi = min(C - 1, c + size / 2);
        i64 b = n * chw + p;
        T acc = (T)0;
        for (int j = lo; j <= hi; j++) { i64 o = b + (i64)j * HW; acc += dy[o] * y[o] / scale[o]; }
        dx[i] = dy[i] * pow(scale[i], (T)(-beta)) - (T)(2.0 * alpha * beta) * x[i] * acc;
    }
}

extern "C" __global__ void lrn_forward_f32(const float* x, float* y, float* scale, int N, int C, i64 HW, int size, double alpha, double beta, double k)
{ lrn_forward_impl(x, y, scale, N, C, HW, size, alpha, beta, k); }
extern "C" __global__ void lrn_forward_f64(const double* x, double* y, double* scale, int N, int C, i64 HW, int size, double alpha, double beta, double k)
{ lrn_forward_impl(x, y, scale, N, C, HW, size, alpha, beta, k); }
extern "C" __global__ void lrn_backward_f32(const float* x, const float* y, const float* scale, const float* dy, float* dx, int N, int C, i64 HW, int size, double alpha, double beta)
{ lrn_backward_impl(x, y, scale, dy, dx, N, C, HW, size, alpha, beta); }
extern "C" __global__ void lrn_backward_f64(const double* x, const double* y, const double* scale, const double* dy, double* dx, int N, int C, i64 HW, int size, double alpha, double beta)
{ lrn_backward_impl(x, y, scale, dy, dx, N, C, HW, size, alpha, beta); }
