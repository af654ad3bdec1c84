using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

/// <summary>CIFAR's pad-and-crop (CropMode.PadRandomCrop): zero padding, random offsets in [−pad, pad], flip.</summary>
public sealed class PadCropTests
{
    private static readonly TransformOptions PadCrop = new()
    {
        Mode = CropMode.PadRandomCrop,
        OutputSize = 32,
        Pad = 4,
        Flip = true,
        Normalization = new Normalization([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f], ChannelOrder.Rgb, 1f),
    };

    private static (byte R, byte G, byte B) Gradient(int x, int y) => ((byte)(x * 8), (byte)(y * 8), (byte)(255 - x * 4));

    private static SampleRandom Random(long index) => new(7, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), index);

    [Fact]
    public void Geometry_OffsetsCoverMinusPadToPad_InWholePixels()
    {
        var seen = new HashSet<(double, double)>();
        Span<CropBox> views = new CropBox[1];
        for (long i = 0; i < 2000; i++)
        {
            var random = Random(i);
            Assert.Equal(1, Geometry.Plan(PadCrop, 32, 32, ref random, views));
            var b = views[0];
            Assert.Equal(32, b.Width);
            Assert.Equal(32, b.Height);
            Assert.InRange(b.X, -4, 4);
            Assert.InRange(b.Y, -4, 4);
            Assert.Equal(Math.Round(b.X), b.X);
            seen.Add((b.X, b.Y));
        }
        Assert.Equal(81, seen.Count);   // every (ox, oy) in [−4, 4]²
    }

    [Fact]
    public void Decode_FloatAndUint8_ShowTheShiftedImageWithBlackPadding()
    {
        var png = DataFixtures.Encode(32, 32, Gradient, SKEncodedImageFormat.Png, 100);
        using var decoder = new ImageDecoder();
        int padded = 0, flipped = 0;
        Span<CropBox> views = new CropBox[1];
        for (long i = 0; i < 40; i++)
        {
            var plan = Random(i);
            Geometry.Plan(PadCrop, 32, 32, ref plan, views);
            var box = views[0];
            int ox = (int)box.X, oy = (int)box.Y;
            if (ox != 0 || oy != 0) padded++;
            if (box.Flip) flipped++;

            var floats = new float[PadCrop.SampleElements];   // (3, 32, 32)
            var bytes = new byte[PadCrop.SampleElements];    // (32, 32, 3)
            var r1 = Random(i);
            var r2 = Random(i);
            Assert.True(decoder.Decode(png, PadCrop, ref r1, floats).Success);
            Assert.True(decoder.Decode(png, PadCrop, ref r2, bytes).Success);
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    int sx = x + ox, sy = y + oy;            // the source pixel shown at output (x, y) before the flip
                    int dx = box.Flip ? 31 - x : x;          // where it is stored
                    bool inside = sx is >= 0 and < 32 && sy is >= 0 and < 32;
                    var (r, g, b) = inside ? Gradient(sx, sy) : ((byte)0, (byte)0, (byte)0);
                    byte[] rgb = [r, g, b];
                    for (int c = 0; c < 3; c++)
                    {
                        float expect = (rgb[c] / 255f - 0.5f) / 0.25f;   // black padding: (0 − 0.5) / 0.25 = −2
                        Assert.True(Math.Abs(floats[(c * 32 + y) * 32 + dx] - expect) < 1e-4,
                            $"sample {i} (offset {ox}, {oy}, flip {box.Flip}) float channel {c} at ({dx}, {y}): {floats[(c * 32 + y) * 32 + dx]} vs {expect}");
                        Assert.Equal(rgb[c], bytes[(y * 32 + dx) * 3 + c]);
                    }
                }
        }
        Assert.InRange(padded, 30, 40);
        Assert.InRange(flipped, 5, 35);
    }
}
