// relu.cu — ReLU forward and backward on contiguous tensors.
//   relu_forward_{f32,f64}(const T* x, T* y, i64 n)              y = max(x, 0); NaN stays NaN (as the CPU backend)
//   relu_backward_{f32,f64}(const T* y, const T* dy, T* dx, i64 n) dx = y > 0 ? dy : 0 (y = forward output, as cuDNN)
// Launch: 1-D, block 256, grid = min(ceil(n / 256), cap); grid-stride loop. y may alias x; dx may alias dy.
#include "common.cuh"

template <typename T> __device__ __forceinline__ void relu_forward_impl(const T* x, T* y, i64 n)
{
    KILN_GRID_STRIDE(i, n)
    {
        T v = x[i];
        y[i] = (v > (T)0 || v != v) ? v : (T)0;
    }
}

template <typename T> __device__ __forceinline__ void relu_backward_impl(const T* y, const T* dy, T* dx, i64 n)
{
    KILN_GRID_STRIDE(i, n) dx[i] = y[i] > (T)0 ? dy[i] : (T)0;
}

extern "C" __global__ void relu_forward_f32(const float* x, float* y, i64 n) { relu_forward_impl(x, y, n); }
extern "C" __global__ void relu_forward_f64(const double* x, double* y, i64 n) { relu_forward_impl(x, y, n); }
extern "C" __global__ void relu_backward_f32(const float* y, const float* dy, float* dx, i64 n) { relu_backward_impl(y, dy, dx, n); }
extern "C" __global__ void relu_backward_f64(const double* y, const double* dy, double* dx, i64 n) { relu_backward_impl(y, dy, dx, n); }
