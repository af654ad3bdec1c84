// concat.cu — concat and narrow along a dim, as copies of row blocks (any dtype, by element size).
// A tensor viewed as (outer, row) where row = size(dim) * inner; concat copies each input's rows into
// the output at a column offset, narrow copies a column window of the input's rows.
//   blockcopy_forward_{b8,b16,b32,b64}(const E* src, i64 srcRow, i64 srcOffset, E* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
//       dst[o * dstRow + dstOffset + i] = src[o * srcRow + srcOffset + i] for o < outer, i < len (elements).
// Launch: 1-D grid-stride over outer * len, block 256.
#include "common.cuh"

template <typename E>
__device__ __forceinline__ void blockcopy_impl(const E* src, i64 srcRow, i64 srcOffset, E* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
{
    KILN_GRID_STRIDE(k, outer * len)
    {
        i64 o = k / len, i = k - o * len;
        dst[o * dstRow + dstOffset + i] = src[o * srcRow + srcOffset + i];
    }
}

extern "C" __global__ void blockcopy_forward_b8(const u8* src, i64 srcRow, i64 srcOffset, u8* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
{ blockcopy_impl(src, srcRow, srcOffset, dst, dstRow, dstOffset, outer, len); }
extern "C" __global__ void blockcopy_forward_b16(const unsigned short* src, i64 srcRow, i64 srcOffset, unsigned short* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
{ blockcopy_impl(src, srcRow, srcOffset, dst, dstRow, dstOffset, outer, len); }
extern "C" __global__ void blockcopy_forward_b32(const unsigned int* src, i64 srcRow, i64 srcOffset, unsigned int* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
{ blockcopy_impl(src, srcRow, srcOffset, dst, dstRow, dstOffset, outer, len); }
extern "C" __global__ void blockcopy_forward_b64(const u64* src, i64 srcRow, i64 srcOffset, u64* dst, i64 dstRow, i64 dstOffset, i64 outer, i64 len)
{ blockcopy_impl(src, srcRow, srcOffset, dst, dstRow, dstOffset, outer, len); }
