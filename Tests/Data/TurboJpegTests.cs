using Kiln.Data;
using Kiln.Data.Interop;

namespace Kiln.Tests.Data;

/// <summary>
/// The TurboJPEG path beside the SkiaSharp path: nearly the same pixels, the same verdict on bad
/// input, and a working fallback when the library is switched off or missing. Tests that need
/// libturbojpeg.so.0 skip with the loader's reason when it is not installed (scripts/install-deps.sh installs it).
/// </summary>
public sealed class TurboJpegTests
{
    private static readonly DecodeLimits Skia = new() { Jpeg = JpegDecoder.SkiaSharp };

    private static void RequireTurbo()
    {
        if (!ImageDecoder.TurboJpegAvailable(out string? whyNot)) Assert.Skip($"TurboJPEG is not available: {whyNot}");
    }

    /// <summary>A photo-like 500x375 JPEG: smooth colour waves, a few hard-edged discs and pixel noise.</summary>
    private static byte[] PhotoLike(int seed, int width = 500, int height = 375, int quality = 90)
    {
        var rng = new Random(seed);
        var noise = new byte[width * height];
        rng.NextBytes(noise);
        double f1 = rng.NextDouble() * 0.05, f2 = rng.NextDouble() * 0.05, p = rng.NextDouble() * 6;
        int cx = rng.Next(width), cy = rng.Next(height), r = 40 + rng.Next(80);
        return DataFixtures.Encode(width, height, (x, y) =>
        {
            double n = (noise[y * width + x] - 128) / 8.0;
            bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
            double red = disc ? 220 : 128 + 80 * Math.Sin(f1 * x + p);
            double green = disc ? 40 : 128 + 80 * Math.Cos(f2 * y);
            double blue = 128 + 60 * Math.Sin(f1 * x + f2 * y);
            static byte B(double v) => (byte)Math.Clamp(v, 0, 255);
            return (B(red + n), B(green + n), B(blue + n));
        }, quality: quality);
    }

    private static float[] Run(ImageDecoder decoder, byte[] bytes, TransformOptions t, long index, out DecodeResult result)
    {
        var dst = new float[t.SampleElements];
        var random = new SampleRandom(3, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), index);
        result = decoder.Decode(bytes, t, ref random, dst);
        return dst;
    }

    [Fact]
    public void Decode_TurboAndSkia_GiveNearlyTheSamePixels()
    {
        RequireTurbo();
        using var turbo = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        using var skia = new ImageDecoder(Skia);
        var modes = new (string Name, TransformOptions T)[]
        {
            ("train", TransformOptions.Train with { Normalization = Normalization.UnitRange }),
            ("eval", TransformOptions.Eval with { Normalization = Normalization.UnitRange }),
            ("tencrop", TransformOptions.Eval with { Mode = CropMode.TenCrop, Normalization = Normalization.UnitRange }),
            ("small", new TransformOptions { Mode = CropMode.CenterCrop, Resize = 64, OutputSize = 56, Normalization = Normalization.UnitRange }),
        };
        for (int image = 0; image < 3; image++)
        {
            var bytes = PhotoLike(image);
            foreach (var (name, t) in modes)
                for (int i = 0; i < 4; i++)
                {
                    var a = Run(turbo, bytes, t, i, out var ra);
                    var b = Run(skia, bytes, t, i, out var rb);
                    Assert.True(ra.Success && rb.Success, ra.Detail + rb.Detail);
                    Assert.Equal(JpegDecoder.TurboJpeg, turbo.LastDecoder);
                    Assert.Equal(JpegDecoder.SkiaSharp, skia.LastDecoder);
                    double mean = 0;
                    for (int k = 0; k < a.Length; k++) mean += Math.Abs(a[k] - b[k]);
                    mean = mean / a.Length * 255;
                    Assert.True(mean < 1.5, $"image {image} {name} sample {i}: mean abs difference {mean:0.00} levels");
                }
        }
    }

    [Fact]
    public void Decode_TurboFullDecode_MatchesSkiaFullDecodeClosely()
    {
        RequireTurbo();
        // Same libjpeg-turbo algorithms (islow IDCT, fancy upsampling) at full size: differences are rounding only.
        var t = new TransformOptions { Mode = CropMode.Full, Flip = false, OutputSize = 125, Normalization = Normalization.UnitRange };
        var limits = new DecodeLimits { DecodeToCrop = false };
        using var turbo = new ImageDecoder(limits with { Jpeg = JpegDecoder.TurboJpeg });
        using var skia = new ImageDecoder(limits with { Jpeg = JpegDecoder.SkiaSharp });
        var bytes = PhotoLike(7);
        var a = Run(turbo, bytes, t, 0, out var ra);
        var b = Run(skia, bytes, t, 0, out var rb);
        Assert.True(ra.Success && rb.Success);
        double mean = 0, worst = 0;
        for (int k = 0; k < a.Length; k++)
        {
            double d = Math.Abs(a[k] - b[k]) * 255;
            mean += d;
            worst = Math.Max(worst, d);
        }
        mean /= a.Length;
        Assert.True(mean < 0.5 && worst < 8, $"mean {mean:0.000}, worst {worst:0.0} levels");
    }

    [Fact]
    public void Decode_Turbo_DecodesAtTheSmallestSufficientDctScale()
    {
        RequireTurbo();
        var bytes = DataFixtures.Encode(640, 480, (x, y) => ((byte)x, (byte)y, 0), quality: 90);
        // Centre 384x384 of 640x480 resized to 64: 2/8 keeps 96 >= 64 (1/8 gives 48), so 160x120 is decoded whole.
        var t = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 80, OutputSize = 64, Normalization = Normalization.UnitRange };
        using var turbo = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        Run(turbo, bytes, t, 0, out var result);
        Assert.True(result.Success, result.Detail);
        Assert.Equal(JpegDecoder.TurboJpeg, turbo.LastDecoder);
        Assert.Equal(160L * 120, turbo.LastDecodedPixels);
    }

    [Fact]
    public void Decode_MutatedJpegs_SameVerdictOnBothPaths()
    {
        RequireTurbo();
        var jpeg = PhotoLike(3, 160, 120, quality: 85);
        var t = new TransformOptions { OutputSize = 32, Mode = CropMode.RandomResizedCrop, Normalization = Normalization.UnitRange };
        using var turbo = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        using var skia = new ImageDecoder(Skia);
        var rng = new Random(11);
        int bad = 0, good = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            var copy = (byte[])jpeg.Clone();
            switch (trial % 4)
            {
                case 0: // a few random bytes anywhere
                    for (int f = 0; f < 1 + rng.Next(6); f++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
                    break;
                case 1: // cut short
                    copy = copy.AsSpan(0, rng.Next(copy.Length)).ToArray();
                    break;
                case 2: // headers: the first 700 bytes hold the markers and tables
                    for (int f = 0; f < 1 + rng.Next(3); f++) copy[rng.Next(Math.Min(700, copy.Length))] = (byte)rng.Next(256);
                    break;
                default: // flips and a cut
                    for (int f = 0; f < 1 + rng.Next(4); f++) copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
                    if (rng.Next(2) == 0) copy = copy.AsSpan(0, copy.Length - 1 - rng.Next(copy.Length / 2)).ToArray();
                    break;
            }
            var a = Run(turbo, copy, t, trial, out var ra);
            Run(skia, copy, t, trial, out var rb);
            Assert.True(ra.Fault == rb.Fault, $"trial {trial}: TurboJPEG path {ra.Fault} ({ra.Detail}), SkiaSharp {rb.Fault} ({rb.Detail})");
            if (ra.Success)
            {
                good++;
                Assert.All(a, v => Assert.True(float.IsFinite(v)));
            }
            else bad++;
        }
        Assert.True(bad > 50 && good > 50, $"{bad} bad, {good} good");
    }

    [Fact]
    public void Decode_TruncatedJpeg_TruncatedWithTurboJpegsMessage()
    {
        RequireTurbo();
        var jpeg = PhotoLike(5, 200, 150);
        using var decoder = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        Run(decoder, jpeg.AsSpan(0, jpeg.Length / 2).ToArray(), TransformOptions.Train, 0, out var result);
        Assert.Equal(BadSampleReason.TruncatedImage, result.Fault);
        Assert.Contains("TurboJPEG warning: Premature end of JPEG file", result.Detail);
    }

    [Fact]
    public void Decode_CmykJpeg_DeclinedByTurboAndDecodedBySkia()
    {
        RequireTurbo();
        var bytes = CmykJpeg.Solid(16, 16, 200, 100, 50, 255);
        using var decoder = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        var t = new TransformOptions { Mode = CropMode.Full, Flip = false, OutputSize = 16, Normalization = Normalization.UnitRange };
        var dst = Run(decoder, bytes, t, 0, out var result);
        Assert.True(result.Success, result.Detail);
        Assert.Equal(JpegDecoder.SkiaSharp, decoder.LastDecoder);
        Assert.Equal(200, dst[5 * 16 + 5] * 255, 2.0);
        Assert.Equal(50, dst[512 + 5 * 16 + 5] * 255, 2.0);
    }

    [Fact]
    public void Decode_BombHeader_RefusedBeforeDecodingOnTurboPath()
    {
        RequireTurbo();
        var bomb = DataFixtures.WithDeclaredSize(PhotoLike(1, 64, 64), 60000, 60000);
        using var decoder = new ImageDecoder(new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg });
        Run(decoder, bomb, TransformOptions.Train, 0, out var result);
        Assert.Equal(BadSampleReason.ImageTooLarge, result.Fault);
        Assert.Contains("60000x60000", result.Detail);
    }

    [Fact]
    public void Decode_Auto_TurboForWholeImagesSkiaForSmallRegions()
    {
        RequireTurbo();
        var bytes = PhotoLike(4);
        using var auto = new ImageDecoder();
        Assert.Equal(JpegDecoder.TurboJpeg, auto.JpegLibrary);
        Run(auto, bytes, TransformOptions.Eval with { Mode = CropMode.TenCrop }, 0, out var r1); // views cover the image
        Assert.True(r1.Success, r1.Detail);
        Assert.Equal(JpegDecoder.TurboJpeg, auto.LastDecoder);
        var small = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 512, OutputSize = 128 }; // 125x125 of 500x375
        Run(auto, bytes, small, 0, out var r2);
        Assert.True(r2.Success, r2.Detail);
        Assert.Equal(JpegDecoder.SkiaSharp, auto.LastDecoder);
    }

    [Fact]
    public void Decode_SkiaSwitch_FallsBackAndStillDecodes()
    {
        using var decoder = new ImageDecoder(Skia);
        Assert.Equal(JpegDecoder.SkiaSharp, decoder.JpegLibrary);
        Run(decoder, PhotoLike(2, 120, 90), TransformOptions.Train, 0, out var result);
        Assert.True(result.Success, result.Detail);
        Assert.Equal(JpegDecoder.SkiaSharp, decoder.LastDecoder);
    }

    [Fact]
    public void Probe_DisabledByEnvironment_ReportsTheSwitch()
    {
        var (handle, _, error) = TurboJpegLibrary.Probe(name => name == "KILN_TURBOJPEG" ? "0" : null, [TurboJpegLibrary.SoName]);
        Assert.Equal(0, handle);
        Assert.Contains("KILN_TURBOJPEG=0", error);
    }

    [Fact]
    public void Probe_MissingLibrary_ListsEveryPlaceTried()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kiln-no-turbojpeg");
        var (handle, _, error) = TurboJpegLibrary.Probe(name => name == "KILN_TURBOJPEG_PATH" ? dir : null, ["libturbojpeg-missing.so.9"]);
        Assert.Equal(0, handle);
        Assert.Contains(Path.Combine(dir, "libturbojpeg-missing.so.9") + ": no such file", error);
        Assert.Contains("dlopen(\"libturbojpeg-missing.so.9\")", error);
        Assert.Contains("/usr/lib/x86_64-linux-gnu/libturbojpeg-missing.so.9", error);
        Assert.Contains("libturbojpeg0", error);
    }

    [Fact]
    public void Loader_TurboAndSkia_SameSamplesAndNearlySamePixels()
    {
        RequireTurbo();
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [7, 5]);
        var options = DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 2), batch: 4, workers: 2);
        var turbo = new DataLoader(options with { Limits = new DecodeLimits { Jpeg = JpegDecoder.TurboJpeg } }).ReadEpoch(0).ToList();
        var skia = new DataLoader(options with { Limits = Skia }).ReadEpoch(0).ToList();
        Assert.Equal(skia.Count, turbo.Count);
        for (int b = 0; b < turbo.Count; b++)
        {
            Assert.Equal(skia[b].Keys.Take(skia[b].Count), turbo[b].Keys.Take(turbo[b].Count));
            Assert.Equal(skia[b].Labels.Take(skia[b].Count), turbo[b].Labels.Take(turbo[b].Count));
            int n = turbo[b].Count * options.Transform.SampleElements;
            double mean = 0;
            for (int k = 0; k < n; k++) mean += Math.Abs(turbo[b].Data[k] - skia[b].Data[k]);
            Assert.True(mean / n < 0.05, $"batch {b}: mean abs difference {mean / n:0.0000} (normalised units)");
            turbo[b].Dispose();
            skia[b].Dispose();
        }
    }

    [Fact]
    public void ScalingFactors_IncludeEveryEighth()
    {
        RequireTurbo();
        var factors = TurboJpeg.ScalingFactors;
        for (int m = 1; m <= 8; m++)
            Assert.Contains(factors, f => f.num * 8 == m * f.denom);
    }
}
