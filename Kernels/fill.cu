// fill.cu — set every element of a contiguous tensor.
//   fill_forward_f32(float* y, float value, i64 n)
//   fill_forward_f64(double* y, double value, i64 n)
// Launch: 1-D, any block size (256 used), grid = min(ceil(n / block), cap); grid-stride loop.
// Layout: flat, contiguous. (float32 zero/constant fills may use cuMemsetD32Async instead.)
#include "common.cuh"

extern "C" __global__ void fill_forward_f32(float* y, float value, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = value;
}

extern "C" __global__ void fill_forward_f64(double* y, double value, i64 n)
{
    KILN_GRID_STRIDE(i, n) y[i] = value;
}
