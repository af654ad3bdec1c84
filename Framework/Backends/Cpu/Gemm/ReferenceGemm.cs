using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu.Gemm;

/// <summary>
/// Plain row-major GEMM for any float type: C = alpha * op(A) * op(B) + beta * C. Serves float64
/// (gradient checks) and is the reference the packed float32 <see cref="Sgemm"/> is tested against.
/// Parallel over rows of C only, so every element is summed in order of k on one thread.
/// </summary>
public static unsafe class ReferenceGemm
{
    /// <summary>GEMM on spans; checks that every matrix fits its span.</summary>
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Sgemm.CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        Sgemm.CheckSpan("A", a.Length, transA ? k : m, transA ? m : k, lda, m, n, k);
        Sgemm.CheckSpan("B", b.Length, transB ? n : k, transB ? k : n, ldb, m, n, k);
        Sgemm.CheckSpan("C", c.Length, m, n, ldc, m, n, k);
        fixed (T* pa = a, pb = b, pc = c)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
    }

    /// <summary>GEMM on raw pointers (the caller guarantees the extents).</summary>
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, bool parallel = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Sgemm.CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        nint pa = (nint)a, pb = (nint)b, pcc = (nint)c;
        long work = (long)m * n * Math.Max(k, 1);
        int chunks = parallel && work >= 1 << 18 ? Math.Min(m, 64) : 1;
        CpuParallel.ForRanges(m, chunks, (_, start, len) =>
            Rows((T*)pa, (T*)pb, (T*)pcc, transA, transB, (int)start, (int)(start + len), n, k, alpha, lda, ldb, beta, ldc));
    }

    private static void Rows<T>(T* a, T* b, T* c, bool transA, bool transB, int i0, int i1, int n, int k, T alpha,
        int lda, int ldb, T beta, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? acc = transB || k == 0 ? null : new T[n]; // one per chunk of rows
        for (int i = i0; i < i1; i++)
        {
            var cRow = new Span<T>(c + (long)i * ldc, n);
            if (transB)
            {
                // C(i, j) = Σ_p A(i, p) B(j, p): dot products of rows.
                for (int j = 0; j < n; j++)
                {
                    T s = T.Zero;
                    T* bj = b + (long)j * ldb;
                    for (int p = 0; p < k; p++) s += A(a, transA, lda, i, p) * bj[p];
                    cRow[j] = beta == T.Zero ? alpha * s : alpha * s + beta * cRow[j];
                }
                continue;
            }
            // C(i, :) = beta C(i, :) + Σ_p (alpha A(i, p)) B(p, :): axpy over rows of B, in order of p.
            if (beta == T.Zero) cRow.Clear();
            else if (beta != T.One) TensorPrimitives.Multiply(cRow, beta, cRow);
            if (acc is null) continue;
            acc.AsSpan().Clear();
            for (int p = 0; p < k; p++)
            {
                T aip = A(a, transA, lda, i, p);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(b + (long)p * ldb, n), aip, acc, acc);
            }
            TensorPrimitives.MultiplyAdd(acc, alpha, cRow, cRow);
        }
    }

    private static T A<T>(T* a, bool transA, int lda, int i, int p) where T : unmanaged =>
        transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
}
