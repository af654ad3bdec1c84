using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Backends.Cpu.Gemm;

/// <summary>
/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(X) = X or Xᵀ,
/// C (m, n), op(A) (m, k), op(B) (k, n) and leading dimensions (row strides) lda, ldb, ldc.
///
/// Note [GEMM blocking]: Goto/BLIS style. C is cut into tasks of (row band, nc columns); each task
/// runs its whole K loop on one thread, so no sum is ever split across threads.
/// Inside a task, K is cut into blocks of kc: the (kc, nc) block of op(B) is packed once into slivers
/// of NR columns (it stays in L2); the band is walked in blocks of mc rows, each (mc, kc) block of
/// op(A) packed into slivers of MR rows; the micro-kernel multiplies one A sliver (held in L1) by
/// each B sliver in turn, keeping an (MR, NR) block of C in registers for the whole kc loop.
/// Packing pads edge slivers with zeros; edge tiles of C go through a small buffer on the stack.
/// Note [Deterministic CPU]: tiling decides only which thread computes an element of C, never how: the k
/// blocking is fixed per micro-kernel, k runs in order, and edge tiles use the same multiply and add as
/// full ones. So a GEMM gives the same bits on one thread or many, serial or parallel; callers that sum
/// several GEMMs (convolution weight gradients) fix their own summation order.
/// </summary>
public static unsafe class Sgemm
{
    /// <summary>The best micro-kernel this processor runs.</summary>
    public static GemmIsa BestIsa { get; } =
        Avx512F.IsSupported ? GemmIsa.Avx512 : Fma.IsSupported && Avx2.IsSupported ? GemmIsa.Avx2 : GemmIsa.Scalar;

    private static GemmIsa s_isa = BestIsa;

    /// <summary>The micro-kernel in use (tests set a lower one to check every path); must be supported here.</summary>
    public static GemmIsa Isa
    {
        get => s_isa;
        set
        {
            if (value > BestIsa) throw new NotSupportedException($"GEMM kernel {value} is not supported on this processor (best: {BestIsa})");
            s_isa = value;
        }
    }

    /// <summary>Blocking of one micro-kernel: register tile (Mr, Nr) and cache blocks (Mc, Kc, Nc).</summary>
    internal readonly record struct Blocking(int Mr, int Nr, int Mc, int Kc, int Nc);

    internal static Blocking BlockingOf(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => new(SgemmKernels.Mr512, SgemmKernels.Nr512, 144, 384, 512),
        GemmIsa.Avx2 => new(SgemmKernels.Mr256, SgemmKernels.Nr256, 120, 256, 512),
        _ => new(SgemmKernels.MrScalar, SgemmKernels.NrScalar, 64, 256, 256),
    };

    /// <summary>GEMM on spans; checks that every matrix fits its span.</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, bool parallel = true) =>
        Run(s_isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);

    /// <summary>GEMM on spans with a given micro-kernel (tests check each one).</summary>
    internal static void Run(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, bool parallel = true)
    {
        if (isa > BestIsa) throw new NotSupportedException($"GEMM kernel {isa} is not supported on this processor (best: {BestIsa})");
        CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        CheckSpan("A", a.Length, transA ? k : m, transA ? m : k, lda, m, n, k);
        CheckSpan("B", b.Length, transB ? n : k, transB ? k : n, ldb, m, n, k);
        CheckSpan("C", c.Length, m, n, ldc, m, n, k);
        fixed (float* pa = a, pb = b, pc = c)
            Run(isa, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
    }

    /// <summary>
    /// GEMM on raw pointers (the caller guarantees the extents). With <paramref name="parallel"/> false
    /// it runs on the calling thread (for callers that parallelise over coarser work, e.g. images).
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel = true) =>
        Run(s_isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);

    private static void Run(GemmIsa isa, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel)
    {
        CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        var bl = BlockingOf(isa);
        // Starting a parallel region costs ~10 us: below ~100 us of work, one thread is faster.
        parallel &= (long)m * n * k >= MinParallelFmas && CpuParallel.Threads > 1;
        var (band, nc, bands, tilesN) = Tiling(bl, m, n, parallel ? MinTasks : 1);
        int tasks = bands * tilesN;
        var job = new Job(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, isa, bl, band, nc, tilesN);
        if (!parallel || tasks == 1)
        {
            for (int t = 0; t < tasks; t++) job.RunTask(t);
            return;
        }
        CpuParallel.For(tasks, job.RunTask);
    }

    /// <summary>
    /// How C is cut into tasks: column tiles of <c>Nc</c> (the packed (kc, nc) block of B stays in L2 and is
    /// packed once per task and k block) times row bands (a task walks its band in blocks of <c>Mc</c> rows).
    /// Bands are added until there are <paramref name="minTasks"/> tasks (1 for a call that runs on one thread);
    /// with few rows, columns are cut finer. Tiling never changes the arithmetic of an element of C, only who computes it.
    /// </summary>
    internal static (int Band, int Nc, int Bands, int TilesN) Tiling(Blocking bl, int m, int n, int minTasks)
    {
        int nc = Math.Min(bl.Nc, RoundUp(n, bl.Nr));
        int tilesN = CeilDiv(n, nc);
        int bands = Math.Min(CeilDiv(m, bl.Mr), CeilDiv(minTasks, tilesN));
        int band = RoundUp(CeilDiv(m, bands), bl.Mr);
        bands = CeilDiv(m, band);
        if (bands * tilesN < minTasks && tilesN < CeilDiv(n, bl.Nr))
        {
            // Few rows (e.g. a linear layer on a small batch): cut columns finer instead.
            tilesN = Math.Min(CeilDiv(n, bl.Nr), CeilDiv(minTasks, bands));
            nc = RoundUp(CeilDiv(n, tilesN), bl.Nr);
            tilesN = CeilDiv(n, nc);
        }
        return (band, nc, bands, tilesN);
    }

    /// <summary>Tasks we try to have at least. Each task packs its own B block, so more tasks cost packing.</summary>
    internal const int MinTasks = 4;

    /// <summary>Multiply-adds below which a GEMM runs on the calling thread (about 100 us on one core).</summary>
    internal const long MinParallelFmas = 1 << 22;

    /// <summary>One GEMM call's arguments, shared by its tasks (a class, so that the task delegate is one allocation per call).</summary>
    private sealed class Job(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc, GemmIsa isa, Blocking bl, int band, int nc, int tilesN)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunTask(int t)
        {
            int i0 = t / tilesN * band, j0 = t % tilesN * nc;
            int mBand = Math.Min(band, m - i0), nLen = Math.Min(nc, n - j0);
            int kcMax = Math.Min(bl.Kc, k), mcMax = Math.Min(bl.Mc, RoundUp(mBand, bl.Mr));
            // B starts on a 64-byte line (A's size rounded up) so that every B load in the kernels is aligned.
            long aFloats = ((long)mcMax * kcMax + 15) & ~15L, bFloats = (long)RoundUp(nLen, bl.Nr) * kcMax;
            float* ap = GemmScratch.Get(aFloats + bFloats);
            float* bp = ap + aFloats;
            for (int pc = 0; pc < k; pc += bl.Kc)
            {
                int kc = Math.Min(bl.Kc, k - pc);
                float betaK = pc == 0 ? beta : 1f;
                GemmPack.PackB(transB, b, ldb, pc, kc, j0, nLen, bp, bl.Nr);
                for (int ic = 0; ic < mBand; ic += bl.Mc)
                {
                    int mLen = Math.Min(bl.Mc, mBand - ic);
                    GemmPack.PackA(transA, a, lda, i0 + ic, mLen, pc, kc, ap, bl.Mr);
                    for (int ir = 0; ir < mLen; ir += bl.Mr)
                    {
                        float* aSliver = ap + (long)ir * kc;
                        int mr = Math.Min(bl.Mr, mLen - ir);
                        float* cRow = c + (long)(i0 + ic + ir) * ldc + j0;
                        for (int jr = 0; jr < nLen; jr += bl.Nr)
                            SgemmKernels.Tile(isa, kc, aSliver, bp + (long)jr * kc, cRow + jr, ldc, alpha, betaK, mr, Math.Min(bl.Nr, nLen - jr));
                    }
                }
            }
        }
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    internal static void CheckArgs(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"gemm: negative size m={m} n={n} k={k}");
        int aCols = transA ? m : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols)) throw new ArgumentException($"gemm: lda={lda} is less than the {aCols} columns of A (transA={transA}, m={m} n={n} k={k})");
        if (ldb < Math.Max(1, bCols)) throw new ArgumentException($"gemm: ldb={ldb} is less than the {bCols} columns of B (transB={transB}, m={m} n={n} k={k})");
        if (ldc < Math.Max(1, n)) throw new ArgumentException($"gemm: ldc={ldc} is less than the {n} columns of C (m={m} n={n} k={k})");
    }

    internal static void CheckSpan(string name, int length, int rows, int cols, int ld, int m, int n, int k)
    {
        long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < need)
            throw new ArgumentException($"gemm: {name} ({rows}, {cols}) with leading dimension {ld} needs {need} elements, got {length} (m={m} n={n} k={k})");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int CeilDiv(int a, int b) => (a + b - 1) / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RoundUp(int a, int b) => CeilDiv(a, b) * b;
}
