using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

public sealed class ImageDecoderTests
{
    private static readonly TransformOptions Identity = new()
    {
        Mode = CropMode.Full,
        Flip = false,
        OutputSize = 32,
        Normalization = Normalization.UnitRange,
    };

    private static float[] Decode(byte[] bytes, TransformOptions t, out DecodeResult result, long index = 0, DecodeLimits? limits = null)
    {
        var dst = new float[t.SampleElements];
        var random = new SampleRandom(1, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), index);
        result = new ImageDecoder(limits).Decode(bytes, t, ref random, dst);
        return dst;
    }

    private static (byte, byte, byte) Gradient(int x, int y) => ((byte)(x * 8), (byte)(y * 8), (byte)(255 - x * 4));

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, 0.6)]
    [InlineData(SKEncodedImageFormat.Jpeg, 6.0)]
    public void Decode_FullAtSameSize_ReproducesPixels(SKEncodedImageFormat format, double tolerance)
    {
        var bytes = DataFixtures.Encode(32, 32, Gradient, format, 100);
        var dst = Decode(bytes, Identity, out var result);
        Assert.True(result.Success, result.Detail);
        double worst = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                var (r, g, b) = Gradient(x, y);
                worst = Math.Max(worst, Math.Abs(dst[y * 32 + x] * 255 - r));
                worst = Math.Max(worst, Math.Abs(dst[1024 + y * 32 + x] * 255 - g));
                worst = Math.Max(worst, Math.Abs(dst[2048 + y * 32 + x] * 255 - b));
            }
        Assert.True(worst <= tolerance, $"worst pixel error {worst}");
    }

    [Fact]
    public void Resample_Flip_MirrorsAHorizontalGradient()
    {
        // RGBA gradient: R = x.
        int w = 16, h = 4;
        var src = new byte[4 * w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) src[4 * (y * w + x)] = (byte)(x * 10);
        var plain = new float[3 * 16 * 16];
        var flipped = new float[3 * 16 * 16];
        float[] scale = [1, 1, 1], bias = [0, 0, 0];
        int[] channels = [0, 1, 2];
        Resampler.ResampleToChw(src, w, h, 4 * w, new CropBox(0, 0, w, h, false), 16, 3, channels, scale, bias, plain);
        Resampler.ResampleToChw(src, w, h, 4 * w, new CropBox(0, 0, w, h, true), 16, 3, channels, scale, bias, flipped);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                Assert.Equal(x * 10f, plain[y * 16 + x]);
                Assert.Equal(plain[y * 16 + x], flipped[y * 16 + 15 - x]);
            }
    }

    [Fact]
    public void Decode_Dense_WholeImagesOfEachScaleAndMirrors_Packed()
    {
        // A 40x30 PNG at Q = 30 (no resampling: the views are the image itself) and Q = 60 (2x larger, 80x60).
        var bytes = DataFixtures.Encode(40, 30, Gradient, SKEncodedImageFormat.Png);
        var t = Identity with { Mode = CropMode.Dense, OutputSize = 16, Scales = [30, 60] };
        var dst = Decode(bytes, t, out var result);
        Assert.True(result.Success, result.Detail);
        int plane = 40 * 30, view = 3 * plane;
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++)
            {
                var (r, g, b) = Gradient(x, y);
                Assert.Equal(r, dst[y * 40 + x] * 255, 0.6);                       // view 0: (3, 30, 40)
                Assert.Equal(g, dst[plane + y * 40 + x] * 255, 0.6);
                Assert.Equal(b, dst[2 * plane + y * 40 + x] * 255, 0.6);
                Assert.Equal(dst[y * 40 + x], dst[view + y * 40 + 39 - x]);      // view 1: its mirror image
            }
        // Q = 60 follows at offset 2·view: (3, 60, 80); an output pixel (2x, 2y) lies a quarter pixel from source (x, y).
        int big = 2 * view, bigPlane = 80 * 60;
        Assert.Equal(Gradient(0, 0).Item1, dst[big] * 255, 0.6);
        Assert.Equal(0.75 * Gradient(10, 5).Item1 + 0.25 * Gradient(11, 5).Item1, dst[big + 2 * 5 * 80 + 2 * 10 + 1] * 255, 1.0);
        Assert.Equal(dst[big + 7 * 80 + 3], dst[big + 3 * bigPlane + 7 * 80 + 76]);  // its mirror image
        Assert.Equal(2 * 3 * (30 * 60 + 60 * 120), t.SampleElements);          // room for aspect 2 at each scale
    }

    [Fact]
    public void Decode_CaffeBgr_SwapsChannelsAndSubtractsMean()
    {
        var bytes = DataFixtures.Encode(8, 8, (_, _) => (200, 100, 50), SKEncodedImageFormat.Png);
        var t = Identity with { OutputSize = 8, Normalization = Normalization.CaffeBgr };
        var dst = Decode(bytes, t, out var result);
        Assert.True(result.Success);
        Assert.Equal(50 - 104f, dst[0], 3);
        Assert.Equal(100 - 117f, dst[64], 3);
        Assert.Equal(200 - 123f, dst[128], 3);
    }

    [Fact]
    public void Decode_ToCrop_AgreesWithFullDecode()
    {
        // A smooth 640x480 image: DCT-scaled, region-limited decoding must give nearly the same crop.
        var bytes = DataFixtures.Encode(640, 480, (x, y) => ((byte)(x * 255 / 639), (byte)(y * 255 / 479), (byte)((x + y) * 255 / 1118)), quality: 95);
        foreach (var mode in new[] { CropMode.RandomResizedCrop, CropMode.CenterCrop, CropMode.TenCrop, CropMode.ScaleJitter })
        {
            var t = new TransformOptions { Mode = mode, OutputSize = 64, Resize = 80, ShorterMin = 64, ShorterMax = 200, Normalization = Normalization.UnitRange };
            for (int i = 0; i < 6; i++)
            {
                var fast = Decode(bytes, t, out var r1, i);
                var full = Decode(bytes, t, out var r2, i, new DecodeLimits { DecodeToCrop = false });
                Assert.True(r1.Success && r2.Success, r1.Detail + r2.Detail);
                double mean = 0;
                for (int k = 0; k < fast.Length; k++) mean += Math.Abs(fast[k] - full[k]);
                mean /= fast.Length;
                Assert.True(mean * 255 < 2.0, $"{mode} sample {i}: mean abs difference {mean * 255:0.00} levels");
            }
        }
    }

    [Fact]
    public void Decode_ToCrop_DecodesOnlyTheScaledRegion()
    {
        var bytes = DataFixtures.Encode(640, 480, Gradient, quality: 90);
        var t = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 80, OutputSize = 64, Normalization = Normalization.UnitRange };
        using var decoder = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.SkiaSharp }); // the region decoder
        var dst = new float[t.SampleElements];
        var random = new SampleRandom(1, 0, 0);
        Assert.True(decoder.Decode(bytes, t, ref random, dst).Success);
        // Centre 384x384 of 640x480 at DCT scale 2/8 (160x120) is about 98x98 pixels, not 307,200.
        Assert.InRange(decoder.LastDecodedPixels, 64 * 64, 110 * 110);
    }

    [Fact]
    public void Decode_GreyJpeg_GivesThreeEqualChannels()
    {
        var bytes = DataFixtures.GrayJpeg(16, 16, (x, _) => (byte)(x * 16));
        var dst = Decode(bytes, Identity with { OutputSize = 16 }, out var result);
        Assert.True(result.Success, result.Detail);
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(dst[i], dst[256 + i], 2);
            Assert.Equal(dst[i], dst[512 + i], 2);
        }
    }

    [Theory]
    [InlineData(255, 255, 255, 255, 255, 255, 255)] // no ink: white
    [InlineData(200, 100, 50, 255, 200, 100, 50)]   // Adobe inverted CMYK: R = C·K/255 ...
    [InlineData(255, 255, 255, 128, 128, 128, 128)] // half black
    public void Decode_AdobeCmykJpeg_BecomesSensibleRgb(byte c, byte m, byte y, byte k, int r, int g, int b)
    {
        var bytes = CmykJpeg.Solid(16, 16, c, m, y, k);
        Assert.True(JpegHeader.TryReadFrame(bytes, out _, out _, out int components));
        Assert.Equal(4, components);
        var dst = Decode(bytes, Identity with { OutputSize = 16 }, out var result);
        Assert.True(result.Success, result.Detail);
        Assert.Equal(r, dst[5 * 16 + 5] * 255, 2.0);
        Assert.Equal(g, dst[256 + 5 * 16 + 5] * 255, 2.0);
        Assert.Equal(b, dst[512 + 5 * 16 + 5] * 255, 2.0);
    }

    [Fact]
    public void Decode_PngNamedJpeg_DetectedByMagicBytes()
    {
        var png = DataFixtures.Encode(16, 16, Gradient, SKEncodedImageFormat.Png);
        Decode(png, Identity with { OutputSize = 16 }, out var result);
        Assert.True(result.Success, result.Detail);
    }

    [Fact]
    public void Decode_OneChannel_IsLuma()
    {
        var bytes = DataFixtures.Encode(8, 8, (_, _) => (255, 0, 0), SKEncodedImageFormat.Png);
        var dst = Decode(bytes, Identity with { OutputSize = 8, Channels = 1, Normalization = Normalization.UnitRange }, out var result);
        Assert.True(result.Success);
        Assert.Equal(0.299f, dst[0], 3);
    }

    [Fact]
    public void Decode_BadInputs_ClassifiedNotThrown()
    {
        var jpeg = DataFixtures.Encode(64, 64, Gradient);
        var random = new Random(1);
        var garbage = new byte[3000];
        random.NextBytes(garbage);
        (byte[] Bytes, BadSampleReason Reason)[] cases =
        [
            ([], BadSampleReason.CorruptImage),
            (garbage, BadSampleReason.CorruptImage),
            (jpeg.AsSpan(0, 8).ToArray(), BadSampleReason.CorruptImage),
            (jpeg.AsSpan(0, jpeg.Length / 2).ToArray(), BadSampleReason.TruncatedImage),
            (DataFixtures.WithDeclaredSize(jpeg, 60000, 60000), BadSampleReason.ImageTooLarge),
        ];
        foreach (var (bytes, reason) in cases)
        {
            Decode(bytes, Identity, out var result);
            Assert.Equal(reason, result.Fault);
            Assert.False(string.IsNullOrEmpty(result.Detail));
        }
    }

    [Fact]
    public void Decode_TruncatedJpegWithCrop_IsTruncated()
    {
        var jpeg = DataFixtures.Encode(256, 256, Gradient);
        var t = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 128, OutputSize = 64, Normalization = Normalization.UnitRange };
        Decode(jpeg.AsSpan(0, jpeg.Length * 2 / 3).ToArray(), t, out var result);
        Assert.Equal(BadSampleReason.TruncatedImage, result.Fault);
    }

    [Fact]
    public void Decode_LargeDownscale_AntialiasedNotAliased()
    {
        // One-pixel stripes at 512 px, shrunk to 16: the average grey must survive, not a stripe pattern.
        var png = DataFixtures.Encode(512, 512, (x, _) => x % 2 == 0 ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0), SKEncodedImageFormat.Png);
        var dst = Decode(png, Identity with { OutputSize = 16 }, out var result);
        Assert.True(result.Success);
        for (int i = 0; i < 256; i++) Assert.InRange(dst[i], 0.4f, 0.6f);
    }
}
