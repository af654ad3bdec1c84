using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    private CublasHandle? _cublas;
    private cublasMath_t? _cublasMath;

    /// <summary>
    /// Whether FP32 GEMMs may use TF32 tensor cores (sm_80+; ~10-bit mantissa products, FP32 accumulate).
    /// On by default, as in cuDNN and PyTorch's convolutions; switch off for strict FP32 (parity tests,
    /// numerics debugging). Applied explicitly before every GEMM.
    /// </summary>
    public bool AllowTf32 { get; set; } = true;

    /// <summary>The cuBLAS handle, created on first use in this context and bound to the compute stream.</summary>
    internal CublasHandle CublasHandle
    {
        get
        {
            if (_cublas is { } h) return h;
            MakeCurrent();
            NativeLibraries.Load(NativeLibraries.Cublas);   // a clear "not found (tried: ...)" before any entry point
            Cublas.Check(Cublas.cublasCreate_v2(out var handle));
            Cublas.Check(Cublas.cublasSetStream_v2(handle, Stream));
            Cublas.Check(Cublas.cublasSetPointerMode_v2(handle, cublasPointerMode_t.CUBLAS_POINTER_MODE_HOST));
            return _cublas = handle;
        }
    }

    /// <summary>
    /// Row-major single-precision GEMM on the compute stream: C = alpha * op(A) * op(B) + beta * C, with
    /// op(A): (m, k), op(B): (k, n), C: (m, n), all contiguous row-major; A is stored (k, m) when
    /// <paramref name="transA"/>, B is stored (n, k) when <paramref name="transB"/>.
    /// cuBLAS is column-major, and a row-major matrix read column-major is its transpose, so this computes
    /// Cᵀ = op(B)ᵀ · op(A)ᵀ: cublasSgemm_v2(opB, opA, n, m, k, B, ldb, A, lda, C, n) with the operands swapped.
    /// </summary>
    internal void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, ulong b, float beta, ulong c)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"sgemm: negative size m={m} n={n} k={k}");
        if (m == 0 || n == 0) return;
        var handle = CublasHandle;
        var mode = AllowTf32 ? cublasMath_t.CUBLAS_TF32_TENSOR_OP_MATH : cublasMath_t.CUBLAS_DEFAULT_MATH;
        if (_cublasMath != mode)
        {
            Cublas.Check(Cublas.cublasSetMathMode(handle, mode));
            _cublasMath = mode;
        }
        int lda = transA ? m : k;   // row length of A as stored
        int ldb = transB ? k : n;
        var opA = transA ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N;
        var opB = transB ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N;
        MakeCurrent();
        var status = Cublas.cublasSgemm_v2(handle.Value, opB, opA, n, m, k, &alpha, (nint)b, ldb, (nint)a, lda, &beta, (nint)c, n);
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS)
            throw Cublas.Error(status, "cublasSgemm_v2",
                $"row-major C({m}x{n}) = {alpha}*{(transA ? "A^T" : "A")}*{(transB ? "B^T" : "B")} + {beta}*C, k={k}, math {mode}");
        GC.KeepAlive(handle);
    }

    /// <summary><see cref="Sgemm(bool, bool, int, int, int, float, ulong, ulong, float, ulong)"/> on float32 tensors, with shape checks.</summary>
    internal void Sgemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1, float beta = 0)
    {
        foreach (var t in (Tensor[])[a, b, c])
            if (t.DType != DType.Float32 || t.Rank != 2)
                throw new ArgumentException($"sgemm needs rank-2 float32 tensors, got {t}");
        int m = transA ? a.Size(1) : a.Size(0), k = transA ? a.Size(0) : a.Size(1);
        int kb = transB ? b.Size(1) : b.Size(0), n = transB ? b.Size(0) : b.Size(1);
        if (k != kb || c.Size(0) != m || c.Size(1) != n)
            throw new ArgumentException($"sgemm: {(transA ? "A^T" : "A")} {a.ShapeString()} x {(transB ? "B^T" : "B")} {b.ShapeString()} does not give C {c.ShapeString()}");
        Sgemm(transA, transB, m, n, k, alpha, ContiguousPtr(a, "sgemm"), ContiguousPtr(b, "sgemm"), beta, ContiguousPtr(c, "sgemm"));
    }
}
