// batchnorm.cu — the evaluation-mode batch-norm backward, which cuDNN does not offer (its backward is
// the training one, from batch statistics). With invStd = 1 / sqrt(variance + eps) per channel:
//   batchnorm2d_backward_eval_params_{f32,f64}(const T* x, const T* dy, const T* mean, const T* variance, double eps,
//                                              T* dweight, T* dbias, int N, int C, i64 HW)
//       dweight[c] = Σ dy (x - mean) invStd, dbias[c] = Σ dy over (N, H, W); either output may be null.
//       Launch: grid.x = C (one block per channel), block exactly KILN_REDUCE_THREADS; sums in double,
//       fixed tree order (deterministic).
//   batchnorm2d_backward_eval_data_{f32,f64}(const T* dy, const T* weight, const T* variance, double eps, T* dx, int C, i64 HW, i64 total)
//       dx = dy * weight[c] * invStd[c] (weight null = 1). Launch: 1-D grid-stride over N*C*HW, block 256.
// Layout: x, dy, dx (N, C, H, W) contiguous; the rest (C).
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void bn_eval_params_impl(const T* x, const T* dy, const T* mean, const T* variance, double eps,
                                                    T* dweight, T* dbias, int N, int C, i64 HW)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    int c = blockIdx.x;
    double m = (double)mean[c], invStd = 1.0 / sqrt((double)variance[c] + eps);
    double sdy = 0.0, sdyx = 0.0;
    i64 per = (i64)N * HW;
    for (i64 k = threadIdx.x; k < per; k += KILN_REDUCE_THREADS)
    {
        i64 n = k / HW, p = k - n * HW;
        i64 j = ((i64)n * C + c) * HW + p;
        double d = (double)dy[j];
        sdy += d;
        sdyx += d * ((double)x[j] - m) * invStd;
    }
    sh[threadIdx.x] = sdy;
    kiln_block_sum(sh);
    if (threadIdx.x == 0 && dbias != 0) dbias[c] = (T)sh[0];
    __syncthreads();
    sh[threadIdx.x] = sdyx;
    kiln_block_sum(sh);
    if (threadIdx.x == 0 && dweight != 0) dweight[c] = (T)sh[0];
}

template <typename T>
__device__ __forceinline__ void bn_eval_data_impl(const T* dy, const T* weight, const T* variance, double eps, T* dx, int C, i64 HW, i64 total)
{
    KILN_GRID_STRIDE(i, total)
    {
        int c = (int)((i / HW) % C);
        double w = weight != 0 ? (double)weight[c] : 1.0;
        dx[i] = (T)((double)dy[i] * w / sqrt((double)variance[c] + eps));
    }
}

extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) batchnorm2d_backward_eval_params_f32(const float* x, const float* dy, const float* mean,
    const float* variance, double eps, float* dweight, float* dbias, int N, int C, i64 HW)
{ bn_eval_params_impl(x, dy, mean, variance, eps, dweight, dbias, N, C, HW); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) batchnorm2d_backward_eval_params_f64(const double* x, const double* dy, const double* mean,
    const double* variance, double eps, double* dweight, double* dbias, int N, int C, i64 HW)
{ bn_eval_params_impl(x, dy, mean, variance, eps, dweight, dbias, N, C, HW); }
extern "C" __global__ void batchnorm2d_backward_eval_data_f32(const float* dy, const float* weight, const float* variance, double eps, float* dx, int C, i64 HW, i64 total)
{ bn_eval_data_impl(dy, weight, variance, eps, dx, C, HW, total); }
extern "C" __global__ void batchnorm2d_backward_eval_data_f64(const double* dy, const double* weight, const double* variance, double eps, double* dx, int C, i64 HW, i64 total)
{ bn_eval_data_impl(dy, weight, variance, eps, dx, C, HW, total); }
