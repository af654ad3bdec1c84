using System.Runtime.CompilerServices;

namespace Kiln.Backends.Cpu.Gemm;

/// <summary>
/// The GEMM the CPU kernels call: the packed SIMD <see cref="Sgemm"/> for float32 and
/// <see cref="ReferenceGemm"/> for float64 (gradient checks, where speed does not matter).
/// </summary>
public static unsafe class CpuGemm
{
    /// <summary>C = alpha * op(A) * op(B) + beta * C, row-major, on raw pointers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            Sgemm.Run(transA, transB, m, n, k, float.CreateTruncating(alpha), (float*)a, lda, (float*)b, ldb,
                float.CreateTruncating(beta), (float*)c, ldc, parallel);
        else
            ReferenceGemm.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
    }
}
