// check.cu — device-side checks that must not cost a host round trip per tensor.
//   nonfinite_check_{f32,f64}(const u64* ptrs, const i64* counts, int firstTensor, int* flag)
//       Sets *flag = 1 if any element of any listed tensor is NaN or ±Inf. ptrs/counts: device arrays,
//       one entry per tensor. Launch: grid (x, y) with blockIdx.y + firstTensor selecting the tensor
//       (the host launches chunks of <= 65535 tensors), grid-stride over its elements in x, block 256.
//       Racing writes all store 1, so no atomics are needed.
//   topk_count_{f32,f64}(const T* logits, const int* labels, int N, int C, int k1, int k2, int* counts)
//       counts[0] += samples whose label ranks within the top k1, counts[1] += within the top k2, where a
//       class beats the label if its logit is greater, or equal with a smaller index (Training.Accuracy's
//       rule); a label outside [0, C) never counts. Launch: 1-D grid-stride over N samples, block 256.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void nonfinite_impl(const u64* ptrs, const i64* counts, int firstTensor, int* flag)
{
    int t = firstTensor + blockIdx.y;
    const T* x = (const T*)ptrs[t];
    i64 n = counts[t];
    bool bad = false;
    KILN_GRID_STRIDE(i, n)
    {
        T v = x[i];
        if (v != v || v - v != (T)0) bad = true;   // NaN, or Inf (Inf - Inf is NaN)
    }
    if (bad) *flag = 1;
}

template <typename T>
__device__ __forceinline__ void topk_impl(const T* logits, const int* labels, int N, int C, int k1, int k2, int* counts)
{
    KILN_GRID_STRIDE(i, N)
    {
        int t = labels[i];
        if (t < 0 || t >= C) continue;
        const T* row = logits + i * (i64)C;
        T target = row[t];
        int better = 0;
        for (int j = 0; j < C; j++)
        {
            T v = row[j];
            if (v > target || (v == target && j < t)) better++;
        }
        if (better < k1) atomicAdd(&counts[0], 1);
        if (better < k2) atomicAdd(&counts[1], 1);
    }
}

extern "C" __global__ void nonfinite_check_f32(const u64* ptrs, const i64* counts, int firstTensor, int* flag) { nonfinite_impl<float>(ptrs, counts, firstTensor, flag); }
extern "C" __global__ void nonfinite_check_f64(const u64* ptrs, const i64* counts, int firstTensor, int* flag) { nonfinite_impl<double>(ptrs, counts, firstTensor, flag); }
extern "C" __global__ void topk_count_f32(const float* logits, const int* labels, int N, int C, int k1, int k2, int* counts) { topk_impl(logits, labels, N, C, k1, k2, counts); }
extern "C" __global__ void topk_count_f64(const double* logits, const int* labels, int N, int C, int k1, int k2, int* counts) { topk_impl(logits, labels, N, C, k1, k2, counts); }
