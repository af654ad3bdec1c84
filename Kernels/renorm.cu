// renorm.cu — filter RMS cap (Krizhevsky/Hinton's weight constraint), in place on w viewed as (rows, len).
//   renorm_forward_{f32,f64}(T* w, i64 len, double maxRms)
//       for each row r: rms = sqrt(Σ w[r]² / len) (double); if rms > maxRms, w[r] *= maxRms / rms.
// Launch: grid.x = rows (one block per filter row; rows <= 2^31 - 1), block exactly KILN_REDUCE_THREADS.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void renorm_impl(T* w, i64 len, double maxRms)
{
    __shared__ double sh[KILN_REDUCE_THREADS];
    T* row = w + (i64)blockIdx.x * len;
    double ss = 0.0;
    for (i64 j = threadIdx.x; j < len; j += KILN_REDUCE_THREADS) { T v = row[j]; ss += (double)(v * v); }
    sh[threadIdx.x] = ss;
    kiln_block_sum(sh);
    double rms = sqrt(sh[0] / (double)len);
    if (rms > maxRms)
    {
        T s = (T)(maxRms / rms);
        for (i64 j = threadIdx.x; j < len; j += KILN_REDUCE_THREADS) row[j] *= s;
    }
}

extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) renorm_forward_f32(float* w, i64 len, double maxRms) { renorm_impl(w, len, maxRms); }
extern "C" __global__ void __launch_bounds__(KILN_REDUCE_THREADS) renorm_forward_f64(double* w, i64 len, double maxRms) { renorm_impl(w, len, maxRms); }
