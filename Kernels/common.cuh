// common.cuh — helpers shared by every Kernels/*.cu.
// NVRTC has no CUDA include directory by default, so nothing here includes a system header; KernelCache
// hands this file to NVRTC as an in-memory header named "common.cuh".
#pragma once

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned char u8;

// Grid-stride loop over [0, n) with 64-bit indices: correct for any grid size, and N*C*H*W may pass 2^31.
#define KILN_GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

// Block size the reduction kernels are written for (their shared arrays and tree depend on it).
#define KILN_REDUCE_THREADS 256

// Sums sh[0..KILN_REDUCE_THREADS) into sh[0] in a fixed tree order (deterministic). Call with every
// thread of the block; ends with a barrier.
template <typename T>
__device__ __forceinline__ void kiln_block_sum(T* sh)
{
    __syncthreads();
    for (int s = KILN_REDUCE_THREADS / 2; s > 0; s >>= 1)
    {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
}
