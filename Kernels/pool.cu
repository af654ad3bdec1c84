// pool.cu — max and average 2-d pooling with the CPU backend's exact rules (Pool2dParams): ceil_mode
// overhang, padding never winning a max, and the count_include_pad divisor
//   include: (min(start + k, size + pad) - start) per dimension; exclude: the window clipped to the input.
// Used where cuDNN cannot express a case exactly (ceil-mode overhang; see CudaBackend.Pool2d.cs).
//   maxpool2d_forward_{f32,f64}(const T* x, T* y, PoolGeom g)
//       y[nc, p, q] = the first maximum (row-major scan; the first NaN if any) of the clipped window.
//   maxpool2d_backward_{f32,f64}(const T* x, const T* dy, T* dx, PoolGeom g)
//       dx[nc, h, w] = Σ dy over the windows whose first maximum is (h, w). Gather form: each input
//       element visits the windows that cover it, so there are no atomics and the sum order is fixed.
//   avgpool2d_forward_{f32,f64}(const T* x, T* y, PoolGeom g, int includePad)
//   avgpool2d_backward_{f32,f64}(const T* dy, T* dx, PoolGeom g, int includePad)   gather form as well.
// Layouts: x, dx (N*C, H, W) and y, dy (N*C, P, Q), contiguous. Launch: 1-D grid-stride over the
// elements written (y for forward, dx for backward), block 256.
#include "common.cuh"

// Matches C# CudaBackend.PoolGeom (11 ints, passed by value).
struct PoolGeom { int NC, H, W, P, Q, kh, kw, sh, sw, ph, pw; };

template <typename T>
__device__ __forceinline__ i64 max_window_argmax(const T* xp, const PoolGeom& g, int p, int q)
{
    int h0 = p * g.sh - g.ph, w0 = q * g.sw - g.pw;
    int hs = max(h0, 0), he = min(h0 + g.kh, g.H), ws = max(w0, 0), we = min(w0 + g.kw, g.W);
    i64 best = -1;
    T bv = (T)0;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++)
        {
            i64 j = (i64)h * g.W + w;
            T v = xp[j];
            if (best < 0 || v > bv || (v != v && bv == bv)) { best = j; bv = v; }
        }
    return best;
}

template <typename T>
__device__ __forceinline__ void maxpool_forward_impl(const T* x, T* y, PoolGeom g)
{
    const i64 pq = (i64)g.P * g.Q, total = (i64)g.NC * pq;
    KILN_GRID_STRIDE(i, total)
    {
        i64 plane = i / pq, r = i - plane * pq;
        int p = (int)(r / g.Q), q = (int)(r - (i64)p * g.Q);
        const T* xp = x + plane * g.H * g.W;
        y[i] = xp[max_window_argmax(xp, g, p, q)];
    }
}

// Output windows [lo, hi] along one dimension that cover input index h.
__device__ __forceinline__ void covering(int h, int k, int s, int pad, int outSize, int& lo, int& hi)
{
    int a = h + pad - k + 1;                    // window start (padded coords) must be >= a
    lo = a <= 0 ? 0 : (a + s - 1) / s;
    hi = min((h + pad) / s, outSize - 1);
}

template <typename T>
__device__ __forceinline__ void maxpool_backward_impl(const T* x, const T* dy, T* dx, PoolGeom g)
{
    const i64 hw = (i64)g.H * g.W, total = (i64)g.NC * hw;
    KILN_GRID_STRIDE(i, total)
    {
        i64 plane = i / hw, j = i - plane * hw;
        int h = (int)(j / g.W), w = (int)(j - (i64)h * g.W);
        const T* xp = x + plane * hw;
        const T* dyp = dy + plane * g.P * g.Q;
        int plo, phi, qlo, qhi;
        covering(h, g.kh, g.sh, g.ph, g.P, plo, phi);
        covering(w, g.kw, g.sw, g.pw, g.Q, qlo, qhi);
        T acc = (T)0;
        for (int p = plo; p <= phi; p++)
            for (int q = qlo; q <= qhi; q++)
                if (max_window_argmax(xp, g, p, q) == j) acc += dyp[(i64)p * g.Q + q];
        dx[i] = acc;
    }
}

__device__ __forceinline__ int avg_count(int o, int k, int s, int pad, int size, int includePad)
{
    int start = o * s - pad;
    return includePad ? min(start + k, size + pad) - start : min(start + k, size) - max(start, 0);
}

template <typename T>
__device__ __forceinline__ void avgpool_forward_impl(const T* x, T* y, PoolGeom g, int includePad)
{
    const i64 pq = (i64)g.P * g.Q, total = (i64)g.NC * pq;
    KILN_GRID_STRIDE(i, total)
    {
        i64 plane = i / pq, r = i - plane * pq;
        int p = (int)(r / g.Q), q = (int)(r - (i64)p * g.Q);
        const T* xp = x + plane * g.H * g.W;
        int h0 = p * g.sh - g.ph, w0 = q * g.sw - g.pw;
        int hs = max(h0, 0), he = min(h0 + g.kh, g.H), ws = max(w0, 0), we = min(w0 + g.kw, g.W);
        T acc = (T)0;
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) acc += xp[(i64)h * g.W + w];
        int count = avg_count(p, g.kh, g.sh, g.ph, g.H, includePad) * avg_count(q, g.kw, g.sw, g.pw, g.W, includePad);
        y[i] = acc / (T)count;
    }
}

template <typename T>
__device__ __forceinline__ void avgpool_backward_impl(const T* dy, T* dx, PoolGeom g, int includePad)
{
    const i64 hw = (i64)g.H * g.W, total = (i64)g.NC * hw;
    KILN_GRID_STRIDE(i, total)
    {
        i64 plane = i / hw, j = i - plane * hw;
        int h = (int)(j / g.W), w = (int)(j - (i64)h * g.W);
        const T* dyp = dy + plane * g.P * g.Q;
        int plo, phi, qlo, qhi;
        covering(h, g.kh, g.sh, g.ph, g.P, plo, phi);
        covering(w, g.kw, g.sw, g.pw, g.Q, qlo, qhi);
        T acc = (T)0;
        for (int p = plo; p <= phi; p++)
            for (int q = qlo; q <= qhi; q++)
            {
                int count = avg_count(p, g.kh, g.sh, g.ph, g.H, includePad) * avg_count(q, g.kw, g.sw, g.pw, g.W, includePad);
                acc += dyp[(i64)p * g.Q + q] / (T)count;
            }
        dx[i] = acc;
    }
}

extern "C" __global__ void maxpool2d_forward_f32(const float* x, float* y, PoolGeom g) { maxpool_forward_impl(x, y, g); }
extern "C" __global__ void maxpool2d_forward_f64(const double* x, double* y, PoolGeom g) { maxpool_forward_impl(x, y, g); }
extern "C" __global__ void maxpool2d_backward_f32(const float* x, const float* dy, float* dx, PoolGeom g) { maxpool_backward_impl(x, dy, dx, g); }
extern "C" __global__ void maxpool2d_backward_f64(const double* x, const double* dy, double* dx, PoolGeom g) { maxpool_backward_impl(x, dy, dx, g); }
extern "C" __global__ void avgpool2d_forward_f32(const float* x, float* y, PoolGeom g, int includePad) { avgpool_forward_impl(x, y, g, includePad); }
extern "C" __global__ void avgpool2d_forward_f64(const double* x, double* y, PoolGeom g, int includePad) { avgpool_forward_impl(x, y, g, includePad); }
extern "C" __global__ void avgpool2d_backward_f32(const float* dy, float* dx, PoolGeom g, int includePad) { avgpool_backward_impl(dy, dx, g, includePad); }
extern "C" __global__ void avgpool2d_backward_f64(const double* dy, double* dx, PoolGeom g, int includePad) { avgpool_backward_impl(dy, dx, g, includePad); }
