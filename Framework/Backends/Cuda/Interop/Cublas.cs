using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

/// <summary>
/// cuBLAS v2 API (<c>libcublas.so.13/.12/.11</c>), from ../shared/cuda/cublas.md. Mind the legacy trap:
/// <c>cublasSgemm</c>, <c>cublasSaxpy</c>, ... are exported too but are the handle-less legacy API;
/// bind the <c>_v2</c> names. Functions born in the v2 era have no suffix (<c>cublasSetMathMode</c>,
/// <c>cublasGemmEx</c>, <c>cublasSgemmStridedBatched</c>, ...). Matrices are column-major; device
/// pointers are passed as <c>nint</c>; <c>alpha</c>/<c>beta</c> are host pointers (pointer mode host).
/// </summary>
internal static unsafe partial class Cublas
{
    private const string Lib = NativeLibraries.Cublas;

    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasCreate_v2(out CublasHandle handle);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasGetVersion_v2(CublasHandle handle, out int version);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasGetProperty(libraryPropertyType type, out int value);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSetStream_v2(CublasHandle handle, nint streamId);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasGetStream_v2(CublasHandle handle, out nint streamId);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSetWorkspace_v2(CublasHandle handle, nint workspace, nuint workspaceSizeInBytes);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSetMathMode(CublasHandle handle, cublasMath_t mode);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasGetMathMode(CublasHandle handle, out cublasMath_t mode);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSetPointerMode_v2(CublasHandle handle, cublasPointerMode_t mode);
    [LibraryImport(Lib)] internal static partial nint cublasGetStatusString(cublasStatus_t status);
    [LibraryImport(Lib)] internal static partial nint cublasGetStatusName(cublasStatus_t status);

    [LibraryImport(Lib)]
    internal static partial cublasStatus_t cublasSgemm_v2(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, float* alpha, nint A, int lda, nint B, int ldb, float* beta, nint C, int ldc);

    [LibraryImport(Lib)]
    internal static partial cublasStatus_t cublasSgemmStridedBatched(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, float* alpha, nint A, int lda, long strideA, nint B, int ldb, long strideB,
        float* beta, nint C, int ldc, long strideC, int batchCount);

    [LibraryImport(Lib)]
    internal static partial cublasStatus_t cublasGemmEx(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, void* alpha, nint A, cudaDataType Atype, int lda, nint B, cudaDataType Btype, int ldb,
        void* beta, nint C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo);

    [LibraryImport(Lib)]
    internal static partial cublasStatus_t cublasGemmStridedBatchedEx(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, void* alpha, nint A, cudaDataType Atype, int lda, long strideA, nint B, cudaDataType Btype, int ldb, long strideB,
        void* beta, nint C, cudaDataType Ctype, int ldc, long strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo);

    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSaxpy_v2(nint handle, int n, float* alpha, nint x, int incx, nint y, int incy);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSscal_v2(nint handle, int n, float* alpha, nint x, int incx);
    [LibraryImport(Lib)] internal static partial cublasStatus_t cublasSdot_v2(nint handle, int n, nint x, int incx, nint y, int incy, float* result);
    [LibraryImport(Lib)]
    internal static partial cublasStatus_t cublasSgeam(nint handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
        float* alpha, nint A, int lda, float* beta, nint B, int ldb, nint C, int ldc);

    /// <summary>Throws <see cref="CublasException"/> unless <paramref name="status"/> is CUBLAS_STATUS_SUCCESS.</summary>
    internal static void Check(cublasStatus_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS) throw Error(status, call);
    }

    internal static CublasException Error(cublasStatus_t status, string call, string? detail = null)
    {
        nint p = cublasGetStatusString(status);
        return new CublasException((int)status, status.ToString(), p == 0 ? "unknown cuBLAS status" : Marshal.PtrToStringUTF8(p)!, call, detail);
    }
}

/// <summary><c>cublasStatus_t</c> (cublas.md §3.1; no values 2, 4–6, 9, 10, 12).</summary>
internal enum cublasStatus_t
{
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
}

internal enum cublasOperation_t
{
    CUBLAS_OP_N = 0,
    CUBLAS_OP_T = 1,
    CUBLAS_OP_C = 2,
    CUBLAS_OP_CONJG = 3,
}

internal enum cublasPointerMode_t
{
    CUBLAS_POINTER_MODE_HOST = 0,
    CUBLAS_POINTER_MODE_DEVICE = 1,
}

/// <summary><c>cublasMath_t</c> (cublas.md §3.3): low bits a mode, 16 an OR-able flag.</summary>
internal enum cublasMath_t
{
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_TENSOR_OP_MATH = 1,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
    CUBLAS_FP32_EMULATED_BF16X9_MATH = 4,
    CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH = 8,
    CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16,
}

/// <summary><c>cublasComputeType_t</c> (cublas.md §3.4). Never pass a <see cref="cudaDataType"/> here.</summary>
internal enum cublasComputeType_t
{
    CUBLAS_COMPUTE_16F = 64,
    CUBLAS_COMPUTE_16F_PEDANTIC = 65,
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_64F = 70,
    CUBLAS_COMPUTE_64F_PEDANTIC = 71,
    CUBLAS_COMPUTE_32I = 72,
    CUBLAS_COMPUTE_32I_PEDANTIC = 73,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
    CUBLAS_COMPUTE_32F_EMULATED_16BFX9 = 78,
    CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT = 79,
}

/// <summary><c>cudaDataType</c> (library_types.h; cublas.md §3.5), the real types.</summary>
internal enum cudaDataType
{
    CUDA_R_32F = 0,
    CUDA_R_64F = 1,
    CUDA_R_16F = 2,
    CUDA_R_8I = 3,
    CUDA_R_8U = 8,
    CUDA_R_32I = 10,
    CUDA_R_32U = 12,
    CUDA_R_16BF = 14,
    CUDA_R_64I = 24,
    CUDA_R_8F_E4M3 = 28,
    CUDA_R_8F_E5M2 = 29,
}

/// <summary><c>cublasGemmAlgo_t</c> (cublas.md §3.6); use <see cref="CUBLAS_GEMM_DEFAULT"/>.</summary>
internal enum cublasGemmAlgo_t
{
    CUBLAS_GEMM_DEFAULT = -1,
    CUBLAS_GEMM_ALGO0 = 0,
    CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99,
    CUBLAS_GEMM_ALGO0_TENSOR_OP = 100,
}

/// <summary><c>libraryPropertyType</c> (shared by cuBLAS and cuDNN).</summary>
internal enum libraryPropertyType
{
    MAJOR_VERSION = 0,
    MINOR_VERSION = 1,
    PATCH_LEVEL = 2,
}
