using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class PcaLightingTests
{
    [Fact]
    public void Sample_OffsetsHaveTheEigenCovariance()
    {
        const int n = 20000;
        const double sigma = 0.1;
        var sum = new double[3];
        var cov = new double[3, 3];
        Span<float> rgb = stackalloc float[3];
        for (int i = 0; i < n; i++)
        {
            var random = new SampleRandom(5, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), i);
            PcaLighting.Sample(ref random, sigma, rgb);
            for (int a = 0; a < 3; a++)
            {
                sum[a] += rgb[a];
                for (int b = 0; b < 3; b++) cov[a, b] += rgb[a] * (double)rgb[b];
            }
        }
        var v = PcaLighting.EigenVectors;
        var e = PcaLighting.EigenValues;
        for (int a = 0; a < 3; a++)
        {
            Assert.True(Math.Abs(sum[a] / n) < 0.002, $"channel {a} mean {sum[a] / n}");
            for (int b = 0; b < 3; b++)
            {
                // Cov = V diag(σ² λ²) Vᵀ
                double expected = 0;
                for (int k = 0; k < 3; k++) expected += v[3 * a + k] * v[3 * b + k] * sigma * sigma * e[k] * e[k];
                Assert.True(Math.Abs(cov[a, b] / n - expected) < 0.04 * 0.0005 + 0.05 * Math.Abs(expected),
                    $"cov[{a},{b}] = {cov[a, b] / n}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Offset_FirstComponentIsNearGrey()
    {
        Span<float> rgb = stackalloc float[3];
        PcaLighting.Offset(1, 0, 0, rgb);
        Assert.Equal(-0.5675f * 0.2175f, rgb[0], 6);
        Assert.Equal(-0.5808f * 0.2175f, rgb[1], 6);
        Assert.Equal(-0.5836f * 0.2175f, rgb[2], 6);
    }
}
