// crossentropy.cu — per-sample cross-entropy from logits against label-smoothed targets
// q = (1 - eps) onehot(label) + eps / C, and its gradient (the CPU backend's formulas).
//   crossentropy_forward_{f32,f64}(const T* logits, const int* labels, T* loss, int N, int C, double eps, int* badLabel)
//       loss[i] = logsumexp(x_i) - (1 - eps) x_i[label] - eps / C Σ_j x_ij. A label outside [0, C) gives
//       loss NaN and records i + 1 in *badLabel (the first such sample to get there wins; 0 = none),
//       which the host checks at its next synchronisation (see CudaBackend.CrossEntropy.cs).
//   crossentropy_backward_{f32,f64}(const T* logits, const int* labels, const T* dloss, T* dlogits, int N, int C, double eps)
//       dlogits_ij = (softmax(x_i)_j - q_j) dloss_i; a bad label gives a NaN row.
// Layout: logits (N, C) contiguous, labels (N) int32. Launch: one block of exactly KILN_REDUCE_THREADS
// per sample (grid.x = min(N, cap), block-stride over samples), sums accumulated in double.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void row_stats(const T* row, int C, double* sh, double& max, double& lse, double& sumX)
{
    double m = -1.0 / 0.0;
    for (int j = threadIdx.x; j < C; j += KILN_REDUCE_THREADS) { double v = (double)row[j]; m = (v != v || v > m) ? v : m; }
    sh[threadIdx.x] = m;
    kiln_block_max(sh);
    max = sh[0];
    __syncthreads();
    double se = 0.0, sx = 0.0;
    for (int j = threadIdx.x; j < C; j += KILN_REDUCE_THREADS) { double v = (double)row[j]; se += exp(v - max); sx += v; }
    sh[threadIdx.x] = se;
    kiln_block_sum(sh);
    double sumExp = sh[0];
    __syncthreads();
    sh[threadIdx.x] = sx;
    kiln_block_sum(sh);
    sumX = sh[0];
    __syncthreads();
    lse = max + log(sumExp);
}

template <typename T>
__device__ __forceinline__ void ce_forward_impl(const T* logits, const int* labels, T* loss, int N, int C, double eps, int* badLabel)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    for (int i = blockIdx.x; i < N; i += gridDim.x)
    {
        const T* row = logits + (i64)i * C;
        double max, lse, sumX;
        row_stats(row, C, sh, max, lse, sumX);
        if (threadIdx.x == 0)
        {
            int t = labels[i];
            if (t < 0 || t >= C)
            {
                atomicCAS(badLabel, 0, i + 1);
                loss[i] = (T)(0.0 / 0.0);
            }
            else loss[i] = (T)(lse - (1.0 - eps) * (double)row[t] - eps / C * sumX);
        }
    }
}

template <typename T>
__device__ __forceinline__ void ce_backward_impl(const T* logits, const int* labels, const T* dloss, T* dlogits, int N, int C, double eps)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    for (int i = blockIdx.x; i < N; i += gridDim.x)
    {
        const T* row = logits + (i64)i * C;
        T* drow = dlogits + (i64)i * C;
        double max, lse, sumX;
        row_stats(row, C, sh, max, lse, sumX);
        int t = labels[i];
        double d = (double)dloss[i], uniform = eps / C;
        bool bad = t < 0 || t >= C;
        for (int j = threadIdx.x; j < C; j += KILN_REDUCE_THREADS)
        {
            double g = exp((double)row[j] - lse) - uniform - (j == t ? 1.0 - eps : 0.0);
            drow[j] = bad ? (T)(0.0 / 0.0) : (T)(g * d);
        }
    }
}

extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) crossentropy_forward_f32(const float* logits, const int* labels, float* loss, int N, int C, double eps, int* badLabel)
{ ce_forward_impl(logits, labels, loss, N, C, eps, badLabel); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) crossentropy_forward_f64(const double* logits, const int* labels, double* loss, int N, int C, double eps, int* badLabel)
{ ce_forward_impl(logits, labels, loss, N, C, eps, badLabel); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) crossentropy_backward_f32(const float* logits, const int* labels, const float* dloss, float* dlogits, int N, int C, double eps)
{ ce_backward_impl(logits, labels, dloss, dlogits, N, C, eps); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) crossentropy_backward_f64(const double* logits, const int* labels, const double* dloss, double* dlogits, int N, int C, double eps)
{ ce_backward_impl(logits, labels, dloss, dlogits, N, C, eps); }
