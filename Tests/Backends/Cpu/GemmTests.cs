using Kiln.Backends.Cpu.Gemm;

namespace Kiln.Tests.Backends.Cpu;

/// <summary>The packed float32 GEMM (every micro-kernel this CPU runs) and the reference GEMM against a naive triple loop in double.</summary>
public sealed class GemmTests
{
    public static TheoryData<GemmIsa, bool, bool> KernelsAndTransposes()
    {
        var data = new TheoryData<GemmIsa, bool, bool>();
        foreach (var isa in Enum.GetValues<GemmIsa>())
            if (isa <= Sgemm.BestIsa)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        data.Add(isa, ta, tb);
        return data;
    }

    /// <summary>(m, n, k, alpha, beta, extra columns of leading dimension): edges of every tile size, several k blocks.</summary>
    private static readonly (int M, int N, int K, float Alpha, float Beta, int Pad)[] Shapes =
    [
        (1, 1, 1, 1f, 0f, 0),
        (7, 17, 65, 1f, 0f, 3),
        (17, 7, 1, -0.5f, 2f, 0),
        (13, 33, 17, 1.5f, -1f, 1),
        (65, 1, 257, 1f, 1f, 5),
        (1, 65, 7, 2f, 0f, 0),
        (257, 65, 17, 1f, 0.5f, 2),
        (24, 48, 40, 1f, 0.5f, 1),      // a 16-wide edge sliver with full rows
        (13, 16, 9, -1f, 0f, 0),
        (300, 130, 800, 0.25f, 0f, 7), // several row blocks within a band and three k blocks
        (16, 64, 30, 1f, 0f, 2),        // a 4-row edge of full width (ResNet's 16, 64, 256 channels)
        (32, 96, 17, 0.5f, 1.5f, 0),    // an 8-row edge of full width (32, 128, 512 channels), beta
        (5, 40, 9, 1f, 0.5f, 1),        // 5 rows: the 8-row kernel through the buffer, and a column edge
        (3, 33, 400, -1f, 0f, 0),       // 3 rows: the 4-row kernel through the buffer, two k blocks
    ];

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_EdgeSizes_MatchNaiveDouble(GemmIsa isa, bool transA, bool transB)
    {
        foreach (var (m, n, k, alpha, beta, pad) in Shapes)
        {
            var (a, lda) = Matrix(transA ? k : m, transA ? m : k, pad, seed: 1);
            var (b, ldb) = Matrix(transB ? n : k, transB ? k : n, pad, seed: 2);
            var (c, ldc) = Matrix(m, n, pad, seed: 3);
            var expected = Naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, out var magnitude);
            Sgemm.Run(isa, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double e = expected[i * ldc + j], got = c[i * ldc + j];
                    double tol = 1e-6 * (magnitude[i * ldc + j] + 1) * Math.Sqrt(k + 1);
                    if (Math.Abs(e - got) > tol)
                        Assert.Fail($"{isa} transA={transA} transB={transB} m={m} n={n} k={k} alpha={alpha} beta={beta}: C[{i},{j}] = {got:G9}, expected {e:G9}");
                }
            // Padding between rows of C must be untouched.
            var (cOrig, _) = Matrix(m, n, pad, seed: 3);
            for (int i = 0; i < m; i++)
                for (int j = n; j < ldc && i * ldc + j < c.Length; j++)
                    Assert.Equal(cOrig[i * ldc + j], c[i * ldc + j]);
        }
    }

    [Fact]
    public void Sgemm_BetaZero_IgnoresNaNInC()
    {
        var (a, _) = Matrix(20, 30, 0, 1);
        var (b, _) = Matrix(30, 40, 0, 2);
        var c = Enumerable.Repeat(float.NaN, 20 * 40).ToArray();
        Sgemm.Run(false, false, 20, 40, 30, 1f, a, 30, b, 40, 0f, c, 40);
        Assert.DoesNotContain(c, float.IsNaN);
    }

    [Fact]
    public void Sgemm_RepeatedAndSerialRuns_AreBitwiseIdentical()
    {
        const int m = 203, n = 517, k = 901;
        var (a, _) = Matrix(m, k, 0, 4);
        var (b, _) = Matrix(n, k, 0, 5);
        var first = new float[m * n];
        Sgemm.Run(false, true, m, n, k, 1f, a, k, b, k, 0f, first, n);
        for (int rep = 0; rep < 3; rep++)
        {
            var again = new float[m * n];
            Sgemm.Run(false, true, m, n, k, 1f, a, k, b, k, 0f, again, n, parallel: rep != 0);
            Assert.True(first.AsSpan().SequenceEqual(again), $"run {rep} differs from the first");
        }
    }

    [Theory]
    [InlineData(16, 0f)]
    [InlineData(20, 0f)]
    [InlineData(32, 0.5f)]
    [InlineData(5, 0f)]
    public void Sgemm_RowEdgeKernels_MatchTwelveRowKernelBitwise(int m, float beta)
    {
        // The first m rows of a GEMM with 36 rows (all through the 12-row kernel) must be the same bits
        // as an m-row GEMM, whose last rows go through the 4- or 8-row kernels (Note [Deterministic CPU]).
        const int n = 96, k = 500;
        var (a, _) = Matrix(36, k, 0, 6);
        var (b, _) = Matrix(k, n, 0, 7);
        var (c36, _) = Matrix(36, n, 0, 8);
        var cm = c36.AsSpan(0, m * n).ToArray();
        Sgemm.Run(false, false, 36, n, k, 1.25f, a, k, b, n, beta, c36, n, parallel: false);
        Sgemm.Run(false, false, m, n, k, 1.25f, a.AsSpan(0, m * k), k, b, n, beta, cm, n, parallel: false);
        Assert.True(cm.AsSpan().SequenceEqual(c36.AsSpan(0, m * n)), $"m={m}: rows differ from the 36-row GEMM's");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void ReferenceGemm_Float64_MatchesNaive(bool transA, bool transB)
    {
        const int m = 19, n = 23, k = 29, pad = 2;
        var (a, lda) = Matrix(transA ? k : m, transA ? m : k, pad, 6);
        var (b, ldb) = Matrix(transB ? n : k, transB ? k : n, pad, 7);
        var (c, ldc) = Matrix(m, n, pad, 8);
        var expected = Naive(transA, transB, m, n, k, 0.75f, a, lda, b, ldb, -1.25f, c, ldc, out _);
        var a64 = a.Select(v => (double)v).ToArray();
        var b64 = b.Select(v => (double)v).ToArray();
        var c64 = c.Select(v => (double)v).ToArray();
        ReferenceGemm.Run<double>(transA, transB, m, n, k, 0.75, a64, lda, b64, ldb, -1.25, c64, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Assert.Equal(expected[i * ldc + j], c64[i * ldc + j], 1e-12);
    }

    [Fact]
    public void Sgemm_LeadingDimensionTooSmall_NamesIt()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Sgemm.Run(false, false, 4, 5, 6, 1f, new float[24], 5, new float[30], 5, 0f, new float[20], 5));
        Assert.Contains("lda=5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Sgemm.Run(false, false, 4, 5, 6, 1f, new float[23], 6, new float[30], 5, 0f, new float[20], 5));
        Assert.Contains("A (4, 6)", ex.Message);
    }

    /// <summary>A (rows, cols) matrix with leading dimension cols + pad, uniform in [-1, 1).</summary>
    private static (float[] Data, int Ld) Matrix(int rows, int cols, int pad, ulong seed)
    {
        int ld = cols + pad;
        var d = new float[(rows - 1) * ld + cols];
        new RandomGenerator(seed).Uniform<float>(d, -1, 1);
        return (d, ld);
    }

    private static double[] Naive(bool transA, bool transB, int m, int n, int k, float alpha, float[] a, int lda,
        float[] b, int ldb, float beta, float[] c, int ldc, out double[] magnitude)
    {
        var r = new double[c.Length];
        magnitude = new double[c.Length];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[p * lda + i] : a[i * lda + p];
                    double y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    s += x * y;
                    mag += Math.Abs(x * y);
                }
                r[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]);
                magnitude[i * ldc + j] = Math.Abs(alpha) * mag + Math.Abs(beta * c[i * ldc + j]);
            }
        return r;
    }
}
