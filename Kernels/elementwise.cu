// elementwise.cu — flat elementwise arithmetic on contiguous tensors of equal shape.
//   add_forward_{f32,f64}(const T* a, const T* b, T* y, i64 n)     y = a + b   (y may alias a or b: AddInPlace)
//   mul_forward_{f32,f64}(const T* a, const T* b, T* y, i64 n)     y = a * b   (may alias)
//   scale_forward_{f32,f64}(const T* x, T alpha, T* y, i64 n)      y = alpha * x (may alias)
//   cast_forward_{f32_f64,f64_f32,u8_f32,i32_f32}(const S* x, D* y, i64 n)   y = (D)x
//   copy_strided_{b8,b32,b64}(const T* x, T* y, i64 n, int rank, Shape8 shape, Shape8 strides, i64 offset)
//        gathers a strided view (rank <= 8, element strides) into contiguous y in row-major order.
// Launch: 1-D, block 256, grid = min(ceil(n / 256), cap); grid-stride loops. No __restrict__: outputs may alias inputs.
#include "common.cuh"

template <typename T> __device__ __forceinline__ void add_impl(const T* a, const T* b, T* y, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
template <typename T> __device__ __forceinline__ void mul_impl(const T* a, const T* b, T* y, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}
template <typename T> __device__ __forceinline__ void scale_impl(const T* x, T alpha, T* y, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = alpha * x[i];
}

extern "C" __global__ void add_forward_f32(const float* a, const float* b, float* y, i64 n) { add_impl(a, b, y, n); }
extern "C" __global__ void add_forward_f64(const double* a, const double* b, double* y, i64 n) { add_impl(a, b, y, n); }
extern "C" __global__ void mul_forward_f32(const float* a, const float* b, float* y, i64 n) { mul_impl(a, b, y, n); }
extern "C" __global__ void mul_forward_f64(const double* a, const double* b, double* y, i64 n) { mul_impl(a, b, y, n); }
extern "C" __global__ void scale_forward_f32(const float* x, float alpha, float* y, i64 n) { scale_impl(x, alpha, y, n); }
extern "C" __global__ void scale_forward_f64(const double* x, double alpha, double* y, i64 n) { scale_impl(x, alpha, y, n); }

template <typename S, typename D> __device__ __forceinline__ void cast_impl(const S* x, D* y, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = (D)x[i];
}

extern "C" __global__ void cast_forward_f32_f64(const float* x, double* y, i64 n) { cast_impl(x, y, n); }
extern "C" __global__ void cast_forward_f64_f32(const double* x, float* y, i64 n) { cast_impl(x, y, n); }
extern "C" __global__ void cast_forward_u8_f32(const u8* x, float* y, i64 n) { cast_impl(x, y, n); }
extern "C" __global__ void cast_forward_i32_f32(const int* x, float* y, i64 n) { cast_impl(x, y, n); }

// Passed by value so a launch needs no device-side shape buffer. Matches C# CudaBackend.Shape8 (64 bytes).
struct Shape8 { i64 v[8]; };

template <typename T>
__device__ __forceinline__ void copy_strided_impl(const T* x, T* y, i64 n, int rank, Shape8 shape, Shape8 strides, i64 offset)
{
    KILN_GRID_STRIDE(i, n)
    {
        i64 rest = i, src = offset;
        for (int d = rank - 1; d >= 0; d--)
        {
            i64 idx = rest % shape.v[d];
            rest /= shape.v[d];
            src += idx * strides.v[d];
        }
        y[i] = x[src];
    }
}

extern "C" __global__ void copy_strided_b8(const u8* x, u8* y, i64 n, int rank, Shape8 shape, Shape8 strides, i64 offset)
{
    copy_strided_impl(x, y, n, rank, shape, strides, offset);
}
extern "C" __global__ void copy_strided_b32(const unsigned int* x, unsigned int* y, i64 n, int rank, Shape8 shape, Shape8 strides, i64 offset)
{
    copy_strided_impl(x, y, n, rank, shape, strides, offset);
}
extern "C" __global__ void copy_strided_b64(const u64* x, u64* y, i64 n, int rank, Shape8 shape, Shape8 strides, i64 offset)
{
    copy_strided_impl(x, y, n, rank, shape, strides, offset);
}
