// dropout.cu — inverted dropout with the CPU backend's Philox stream (Note [Random streams]): element i
// uses lane i % 4 of Philox block (counter = offset + i / 4, stream 0, key = seed), is kept when
// ToUniform(word) >= p, and gets mask = keep (= 1/(1-p), rounded to T once on the host side) or 0.
// The same (seed, offset) therefore gives the same mask as CpuBackend.DropoutForward, bit for bit.
//   dropout_forward_{f32,f64}(const T* x, T* y, T* mask, i64 n, float p, double keep, u64 seed, u64 offset)
// Launch: 1-D grid-stride over ceil(n / 4) Philox blocks (each thread writes up to 4 elements), block 256.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void dropout_forward_impl(const T* x, T* y, T* mask, i64 n, float p, double keep, u64 seed, u64 offset)
{
    const T kept = (T)keep;
    const i64 blocks = (n + 3) / 4;
    KILN_GRID_STRIDE(b, blocks)
    {
        u64 counter = offset + (u64)b;
        KilnPhilox4 r = kiln_philox((unsigned int)counter, (unsigned int)(counter >> 32), 0u, 0u,
                                    (unsigned int)seed, (unsigned int)(seed >> 32));
        unsigned int words[4] = { r.w0, r.w1, r.w2, r.w3 };
        i64 first = b * 4;
        #pragma unroll
        for (int lane = 0; lane < 4; lane++)
        {
            i64 i = first + lane;
            if (i >= n) break;
            T m = kiln_to_uniform(words[lane]) >= p ? kept : (T)0;
            mask[i] = m;
            y[i] = x[i] * m;
        }
    }
}

extern "C" __global__ void dropout_forward_f32(const float* x, float* y, float* mask, i64 n, float p, double keep, u64 seed, u64 offset)
{ dropout_forward_impl(x, y, mask, n, p, keep, seed, offset); }
extern "C" __global__ void dropout_forward_f64(const double* x, double* y, double* mask, i64 n, float p, double keep, u64 seed, u64 offset)
{ dropout_forward_impl(x, y, mask, n, p, keep, seed, offset); }
