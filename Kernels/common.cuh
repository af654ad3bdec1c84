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

// Block maximum of sh[0..KILN_REDUCE_THREADS) into sh[0], fixed tree order; ends with a barrier.
// NaN wins (a row with a NaN gives NaN, as the CPU's TensorPrimitives.Max).
template <typename T>
__device__ __forceinline__ void kiln_block_max(T* sh)
{
    __syncthreads();
    for (int s = KILN_REDUCE_THREADS / 2; s > 0; s >>= 1)
    {
        if (threadIdx.x < s)
        {
            T a = sh[threadIdx.x], b = sh[threadIdx.x + s];
            sh[threadIdx.x] = (a != a || a > b) ? a : b;
        }
        __syncthreads();
    }
}

// Philox 4x32-10, word for word the CPU's Kiln.Core.Philox.Block: counter (c0..c3), key (k0, k1).
// See Note [Random streams] (Framework/Core/RandomGenerator.cs).
struct KilnPhilox4 { unsigned int w0, w1, w2, w3; };

__device__ __forceinline__ KilnPhilox4 kiln_philox(unsigned int c0, unsigned int c1, unsigned int c2, unsigned int c3,
                                                   unsigned int k0, unsigned int k1)
{
    #pragma unroll
    for (int round = 0; round < 10; round++)
    {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    KilnPhilox4 r = { c0, c1, c2, c3 };
    return r;
}

// Philox.ToUniform: 24 random bits as a float in [0, 1) (exact in float).
__device__ __forceinline__ float kiln_to_uniform(unsigned int w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
