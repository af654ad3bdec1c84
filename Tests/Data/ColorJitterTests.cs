using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

public sealed class ColorJitterTests
{
    private static (double[] M, double[] T) Compose(int[] order, double[] alpha, double[] mean)
    {
        var m = new double[9];
        var t = new double[3];
        ColorJitter.Compose(order, alpha, mean, m, t);
        return (m, t);
    }

    [Fact]
    public void Compose_EachOperation_MatchesItsDefinition()
    {
        double[] mean = [0.2, 0.4, 0.6];
        double grey = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;

        var (m, t) = Compose([0], [0.5, 1, 1], mean);                        // brightness 0.5
        Assert.Equal([0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5], m);
        Assert.Equal([0.0, 0, 0], t);

        (m, t) = Compose([2], [1, 1, 0], mean);                              // saturation 0: every channel is luma
        for (int r = 0; r < 3; r++) Assert.Equal([0.299, 0.587, 0.114], m[(3 * r)..(3 * r + 3)].Select(v => Math.Round(v, 12)));

        (m, t) = Compose([1], [1, 0, 1], mean);                              // contrast 0: the mean grey
        Assert.All(m, v => Assert.Equal(0, v, 12));
        Assert.All(t, v => Assert.Equal(grey, v, 12));

        (m, t) = Compose([0, 1], [0.5, 0, 1], mean);                         // brightness then contrast: mean of the darkened image
        Assert.All(t, v => Assert.Equal(0.5 * grey, v, 12));
        (m, t) = Compose([1, 0], [0.5, 0, 1], mean);                         // contrast then brightness: the same here
        Assert.All(t, v => Assert.Equal(0.5 * grey, v, 12));
    }

    [Fact]
    public void Decode_WithJitter_GreyStaysGreyAndBrightnessVaries()
    {
        var grey = DataFixtures.Encode(16, 16, (x, y) => ((byte)(100 + x), (byte)(100 + x), (byte)(100 + x)), SKEncodedImageFormat.Png);
        var t = new TransformOptions
        {
            Mode = CropMode.Full,
            OutputSize = 16,
            Flip = false,
            Normalization = Normalization.UnitRange,
            Brightness = 0.4,
            Contrast = 0.4,
            Saturation = 0.4,
        };
        var decoder = new ImageDecoder();
        var dst = new float[t.SampleElements];
        var means = new List<double>();
        for (int i = 0; i < 50; i++)
        {
            var random = new SampleRandom(9, 3, i);
            Assert.True(decoder.Decode(grey, t, ref random, dst).Success);
            for (int p = 0; p < 256; p++)
            {
                Assert.Equal(dst[p], dst[256 + p], 1e-4);
                Assert.Equal(dst[p], dst[512 + p], 1e-4);
            }
            means.Add(dst.Take(256).Average());
        }
        double plain = Enumerable.Range(0, 16).Average(x => (100 + x) / 255.0);
        Assert.All(means, m => Assert.InRange(m / plain, 0.55, 1.45));
        Assert.True(means.Max() / means.Min() > 1.3, "brightness should vary across samples");
    }

    [Fact]
    public void ResampleAffine_SelectionMatrix_EqualsChannelSelection()
    {
        var src = new byte[4 * 8 * 8];
        new Random(2).NextBytes(src);
        var box = new CropBox(0.5, 1, 6, 5, true);
        var a = new float[3 * 12 * 12];
        var b = new float[3 * 12 * 12];
        Resampler.ResampleToChw(src, 8, 8, 32, box, 12, 3, [2, 1, 0], [0.5f, 2f, 1f], [1f, 2f, 3f], a);
        Resampler.ResampleToChwAffine(src, 8, 8, 32, box, 12, 3, [0, 0, 0.5f, 0, 2f, 0, 1f, 0, 0], [1f, 2f, 3f], b);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 3);
    }
}
