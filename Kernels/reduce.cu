// reduce.cu — deterministic full reductions and their backward.
//   sum_partial_{f32,f64}(const T* x, double* partial, i64 n)
//       Launch: block exactly KILN_REDUCE_THREADS (256), grid = G where G depends only on n (the C#
//       launcher uses min(ceil(n / 256), 1024)). Block b writes partial[b] = sum of its grid-stride
//       share, accumulated in double and combined by a fixed tree: the result is bitwise reproducible
//       for a given n whatever the GPU.
//   sum_final_{f32,f64}(const double* partial, int count, T* y)
//       Launch: one block of 256 threads. y[0] = sum of partial[0..count) in a fixed order.
//   sum_backward_{f32,f64}(const T* scalar, double alpha, T* dx, i64 n)
//       dx[i] = alpha * scalar[0] (the gradient of sum/mean). Launch: 1-D, block 256, grid-stride.
// Layout: flat, contiguous.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void sum_partial_impl(const T* x, double* partial, i64 n)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    double acc = 0.0;
    KILN_GRID_STRIDE(i, n) acc += (double)x[i];
    sh[threadIdx.x] = acc;
    kiln_block_sum(sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

template <typename T>
__device__ __forceinline__ void sum_final_impl(const double* partial, int count, T* y)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += KILN_REDUCE_THREADS) acc += partial[i];
    sh[threadIdx.x] = acc;
    kiln_block_sum(sh);
    if (threadIdx.x == 0) y[0] = (T)sh[0];
}

extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) sum_partial_f32(const float* x, double* partial, i64 n) { sum_partial_impl(x, partial, n); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) sum_partial_f64(const double* x, double* partial, i64 n) { sum_partial_impl(x, partial, n); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) sum_final_f32(const double* partial, int count, float* y) { sum_final_impl(partial, count, y); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) sum_final_f64(const double* partial, int count, double* y) { sum_final_impl(partial, count, y); }

extern "C" __global__ void sum_backward_f32(const float* scalar, double alpha, float* dx, i64 n)
{
    float v = (float)(alpha * (double)scalar[0]);
    KILN_GRID_STRIDE(i, n) dx[i] = v;
}

extern "C" __global__ void sum_backward_f64(const double* scalar, double alpha, double* dx, i64 n)
{
    double v = alpha * scalar[0];
    KILN_GRID_STRIDE(i, n) dx[i] = v;
}
