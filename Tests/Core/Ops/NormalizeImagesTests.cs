namespace Kiln.Tests.Core.Ops;

/// <summary>Op.NormalizeImages on the CPU (the reference of CUDA's normalize_forward_u8_f32) against a plain scalar loop.</summary>
public sealed class NormalizeImagesTests
{
    /// <summary>y[n, c, h, w] = (x[n, h, flip ? W−1−w : w, c] · scale − mean[c]) / std[c], in double.</summary>
    internal static double[] Reference(byte[] x, int n, int h, int w, int c, float[] mean, float[] std, byte[]? flip, float scale)
    {
        var y = new double[n * c * h * w];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int r = 0; r < h; r++)
                    for (int col = 0; col < w; col++)
                    {
                        int src = flip is not null && flip[i] != 0 ? w - 1 - col : col;
                        y[((i * c + ch) * h + r) * w + col] = (x[((i * h + r) * w + src) * c + ch] * (double)scale - mean[ch]) / std[ch];
                    }
        return y;
    }

    internal static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0;            // both ends of the range appear
        bytes[^1] = 255;
        return bytes;
    }

    [Theory]
    [InlineData(3, 5, 7, 3, true)]
    [InlineData(2, 9, 4, 1, true)]
    [InlineData(5, 3, 11, 3, false)]
    [InlineData(1, 1, 1, 3, true)]
    public void Cpu_MatchesScalarReference_WithAndWithoutFlip(int n, int h, int w, int c, bool useFlip)
    {
        using var scope = TensorScope.Begin();
        var pixels = RandomBytes(n * h * w * c, 100 + n * h + w);
        float[] mean = c == 3 ? [0.485f, 0.456f, 0.406f] : [0.1307f];
        float[] std = c == 3 ? [0.229f, 0.224f, 0.225f] : [0.3081f];
        byte[]? flip = useFlip ? Enumerable.Range(0, n).Select(i => (byte)(i % 2)).ToArray() : null;
        var x = Tensor.FromArray(pixels, [n, h, w, c]);                       // x: (N, H, W, C) uint8
        var f = flip is null ? null : Tensor.FromArray(flip, [n]);
        var y = Op.NormalizeImages(x, mean, std, 1 / 255f, f);                // y: (N, C, H, W) float32
        Assert.Equal([n, c, h, w], y.Shape.ToArray());
        Assert.Equal(DType.Float32, y.DType);
        var expected = Reference(pixels, n, h, w, c, mean, std, flip, 1 / 255f);
        var actual = y.ToArray<float>();
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= 1e-6 * (1 + Math.Abs(expected[i]))))
                Assert.Fail($"element {i}: reference {expected[i]:G9}, CPU {actual[i]:G9}");
        if (useFlip && n > 1 && w > 1)   // a mirrored image really differs from its unmirrored normalisation
            Assert.NotEqual(Reference(pixels, n, h, w, c, mean, std, null, 1 / 255f), expected);
    }

    [Fact]
    public void Cpu_CaffeUnits_BgrMeansOnRawPixels()
    {
        using var scope = TensorScope.Begin();
        byte[] pixels = [0, 128, 255, 104, 117, 123];                          // (1, 1, 2, 3)
        var y = Op.NormalizeImages(Tensor.FromArray(pixels, [1, 1, 2, 3]), [104f, 117f, 123f], [1f, 1f, 1f], 1f);
        Assert.Equal([-104f, 0f, 11f, 0f, 132f, 0f], y.ToArray<float>());    // y: (1, 3, 1, 2), one plane per channel
    }

    [Fact]
    public void BadArguments_SayWhatWasExpected()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new byte[2 * 3 * 4 * 3], [2, 3, 4, 3]);
        var e = Assert.Throws<ArgumentException>(() => Op.NormalizeImages(Tensor.Zeros([2, 3, 4, 3]), [0f, 0f, 0f], [1f, 1f, 1f], 1f));
        Assert.Contains("(N, H, W, C) uint8, got float32", e.Message);
        e = Assert.Throws<ArgumentException>(() => Op.NormalizeImages(x, [0f], [1f], 1f));
        Assert.Contains("3 channels, got 1 mean and 1 std", e.Message);
        e = Assert.Throws<ArgumentException>(() => Op.NormalizeImages(x, [0f, 0f, 0f], [1f, 0f, 1f], 1f));
        Assert.Contains("std must be > 0, got 0 for channel 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Op.NormalizeImages(x, [0f, 0f, 0f], [1f, 1f, 1f], 1f, Tensor.FromArray(new byte[3], [3])));
        Assert.Contains("flip must be (2) uint8", e.Message);
    }
}
