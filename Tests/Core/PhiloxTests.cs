using Kiln.Backends.Cpu;

namespace Kiln.Tests.Core;

public sealed class PhiloxTests
{
    // Known-answer vectors of Philox4x32-10 from Random123's kat_vectors (Salmon et al. 2011).
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Block_MatchesRandom123KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        Assert.Equal((r0, r1, r2, r3), Philox.Block(c0, c1, c2, c3, k0, k1));
    }

    [Fact]
    public void Generator_SameSeed_SameNumbers_AndDrawsAdvance()
    {
        var a = new RandomGenerator(42);
        var b = new RandomGenerator(42);
        var x = new float[10];
        var y = new float[10];
        a.Normal<float>(x);
        b.Normal<float>(y);
        Assert.Equal(x, y);
        a.Normal<float>(x);
        Assert.NotEqual(y, x);
        Assert.Equal(6ul, a.Offset); // two draws of 10 numbers: 3 counters each
    }

    [Fact]
    public void Generator_LargeParallelDraws_EqualTheElementwiseDefinition()
    {
        // 300,000 numbers take the chunked parallel path; each must still be number i of the stream.
        var g = new RandomGenerator(9, offset: 5);
        var n = new double[300_001];
        g.Normal<double>(n);
        var u = new float[300_001];
        g.Uniform<float>(u);
        foreach (int i in new[] { 0, 1, 2, 3, 4, 65_535, 65_536, 131_073, 300_000 })
        {
            Assert.Equal(RandomGenerator.NormalAt(9, 5, i), n[i]);
            Assert.Equal(Philox.ToUniform(Philox.Word(9, 0, 5 + 75_001, i)), u[i]);
        }
    }

    [Fact]
    public void Generator_UniformAndNormal_HaveTheRightMoments()
    {
        var g = new RandomGenerator(1);
        var u = new double[200_000];
        g.Uniform<double>(u, -1, 3);
        Assert.InRange(u.Min(), -1, 3);
        Assert.InRange(u.Max(), -1, 3);
        Assert.InRange(u.Average(), 0.98, 1.02);
        var n = new double[200_000];
        g.Normal<double>(n, 2, 0.5);
        double mean = n.Average();
        double std = Math.Sqrt(n.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, 1.995, 2.005);
        Assert.InRange(std, 0.495, 0.505);
    }

    [Fact]
    public void Dropout_MaskIsTheSameOnAnyThreadCount()
    {
        int saved = CpuParallel.Threads;
        try
        {
            float[] Run(int threads)
            {
                CpuParallel.Threads = threads;
                using var scope = TensorScope.Begin();
                var x = Tensor.Ones([1 << 18]);
                return Op.Dropout(x, 0.5, training: true, new RandomGenerator(3)).ToArray<float>();
            }
            var one = Run(1);
            var two = Run(2);
            Assert.Equal(one, two);
            double kept = one.Count(v => v != 0) / (double)one.Length;
            Assert.InRange(kept, 0.49, 0.51);
            Assert.All(one, v => Assert.True(v == 0 || v == 2f));
        }
        finally { CpuParallel.Threads = saved; }
    }
}
