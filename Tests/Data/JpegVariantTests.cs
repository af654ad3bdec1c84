using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

/// <summary>
/// JPEG variants beyond baseline, from committed fixtures in Tests/Data/Fixtures (a few KB; written by
/// scripts/make-jpeg-fixtures.py, which needs libjpeg-turbo's tools and exiftool, the tests need neither):
/// progressive and arithmetic-coded (the baseline file's coefficients re-coded by jpegtran, so they must decode
/// to the baseline's pixels), 12-bit (refused with its reason) and EXIF-rotated (ignored, as PIL and torchvision
/// do). See Note [JPEG variants] and Note [EXIF orientation] in ImageDecoder.
/// </summary>
public sealed class JpegVariantTests
{
    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Data", "Fixtures", name));

    private static readonly TransformOptions[] Modes =
    [
        new() { Mode = CropMode.Full, Flip = false, OutputSize = 48, Normalization = Normalization.UnitRange },
        TransformOptions.Train with { OutputSize = 32, Normalization = Normalization.UnitRange },   // SkiaSharp decodes a region
        TransformOptions.Eval with { Resize = 48, OutputSize = 40, Normalization = Normalization.UnitRange },
    ];

    private static void RequireTurbo(JpegDecoder library)
    {
        if (library != JpegDecoder.SkiaSharp && !ImageDecoder.TurboJpegAvailable(out string? whyNot))
            Assert.Skip($"TurboJPEG is not available: {whyNot}");
    }

    private static float[] Decode(JpegDecoder library, byte[] bytes, TransformOptions t, long index, out DecodeResult result, out JpegDecoder used)
    {
        using var decoder = new ImageDecoder(new DecodeLimits { Jpeg = library });
        var dst = new float[t.SampleElements];
        var random = new SampleRandom(5, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), index);
        result = decoder.Decode(bytes, t, ref random, dst);
        used = decoder.LastDecoder;
        return dst;
    }

    /// <summary>The fixture's frame type: FF C0 (baseline), C2 (progressive), C9 (arithmetic). Entropy-coded data never holds FF Cx.</summary>
    private static bool HasMarker(byte[] bytes, byte marker) => bytes.AsSpan().IndexOf([(byte)0xFF, marker]) > 0;

    [Theory]
    [InlineData("progressive.jpg", 0xC2, JpegDecoder.SkiaSharp)]
    [InlineData("progressive.jpg", 0xC2, JpegDecoder.TurboJpeg)]
    [InlineData("arithmetic.jpg", 0xC9, JpegDecoder.SkiaSharp)]
    [InlineData("arithmetic.jpg", 0xC9, JpegDecoder.TurboJpeg)]
    public void Decode_ProgressiveAndArithmetic_SamePixelsAsTheBaselineFile(string file, byte sof, JpegDecoder library)
    {
        RequireTurbo(library);
        var baseline = Fixture("baseline.jpg");
        var variant = Fixture(file);
        Assert.True(HasMarker(baseline, 0xC0) && !HasMarker(baseline, sof));
        Assert.True(HasMarker(variant, sof) && !HasMarker(variant, 0xC0), $"{file} has no SOF marker FF {sof:X2}");
        foreach (var t in Modes)
            for (int i = 0; i < 3; i++)
            {
                var expected = Decode(library, baseline, t, i, out var rb, out _);
                var actual = Decode(library, variant, t, i, out var rv, out var used);
                Assert.True(rb.Success && rv.Success, rb.Detail + rv.Detail);
                Assert.Equal(library, used);
                Assert.Equal(expected, actual);
            }
    }

    [Fact]
    public void Decode_Progressive_TurboAndSkiaNearlyTheSame()
    {
        RequireTurbo(JpegDecoder.TurboJpeg);
        var bytes = Fixture("progressive.jpg");
        foreach (var t in Modes)
            for (int i = 0; i < 3; i++)
            {
                var a = Decode(JpegDecoder.TurboJpeg, bytes, t, i, out var ra, out _);
                var b = Decode(JpegDecoder.SkiaSharp, bytes, t, i, out var rb, out _);
                Assert.True(ra.Success && rb.Success, ra.Detail + rb.Detail);
                double mean = 0;
                for (int k = 0; k < a.Length; k++) mean += Math.Abs(a[k] - b[k]);
                mean = mean / a.Length * 255;
                Assert.True(mean < 1.5, $"{t.Mode} sample {i}: mean abs difference {mean:0.00} levels");
            }
    }

    [Theory]
    [InlineData(JpegDecoder.SkiaSharp)]
    [InlineData(JpegDecoder.TurboJpeg)]
    [InlineData(JpegDecoder.Auto)]
    public void Decode_TwelveBitJpeg_RefusedAsCorruptWithTheReason(JpegDecoder library)
    {
        // Before the header check SkiaSharp called this a truncated image and TurboJPEG refused its header.
        RequireTurbo(library);
        var bytes = Fixture("12bit.jpg");
        Assert.True(JpegHeader.TryReadFrame(bytes, out int w, out int h, out int c) && (w, h, c) == (32, 32, 1));
        foreach (var t in Modes)
        {
            var dst = Decode(library, bytes, t, 0, out var result, out _);
            Assert.Equal(BadSampleReason.CorruptImage, result.Fault);
            Assert.Equal("12-bit JPEG (SOF1) is not supported: the decoders read 8-bit samples only", result.Detail);
            Assert.All(dst, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Unsupported_NamesLosslessHierarchicalAndPrecision()
    {
        var bytes = Fixture("baseline.jpg");
        Assert.Null(JpegHeader.Unsupported(bytes));
        Assert.Null(JpegHeader.Unsupported(Fixture("progressive.jpg")));
        Assert.Null(JpegHeader.Unsupported(Fixture("arithmetic.jpg")));
        Assert.Null(JpegHeader.Unsupported([1, 2, 3]));
        int sof = bytes.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        var lossless = (byte[])bytes.Clone();
        lossless[sof + 1] = 0xC3;
        Assert.Equal("lossless JPEG (SOF3) is not supported", JpegHeader.Unsupported(lossless));
        lossless[sof + 1] = 0xC5;
        Assert.Equal("hierarchical JPEG (SOF5) is not supported", JpegHeader.Unsupported(lossless));
        var sixteen = (byte[])bytes.Clone();
        sixteen[sof + 4] = 16;
        Assert.StartsWith("16-bit JPEG (SOF0) is not supported", JpegHeader.Unsupported(sixteen));
    }

    [Fact]
    public void Loader_TwelveBitJpeg_IsACountedBadSampleNamingItsKey()
    {
        using var dir = new TempDir();
        var good = Fixture("progressive.jpg");
        using (var w = new ShardWriter(dir.File("variants-000000.tar")))
        {
            for (int i = 0; i < 4; i++) w.WriteSample($"n01440764/good_{i}", good, "jpg", 1);
            w.WriteSample("n01440764/twelve_bit", Fixture("12bit.jpg"), "jpg", 1);
            w.WriteSample("n01440764/arith", Fixture("arithmetic.jpg"), "jpg", 2);
            w.Complete();
        }
        var events = new List<DataEvent>();
        var options = DataFixtures.SmallOptions(dir.File("variants-000000.tar"), batch: 5) with
        {
            MaxBadFraction = 0.5,
            OnEvent = events.Add,
            DropLast = false,
            ShuffleBuffer = 0,
        };
        var batches = new DataLoader(options).ReadEpoch(0).ToList();
        Assert.Equal(5, batches.Sum(b => b.Count));
        foreach (var b in batches) b.Dispose();
        var bad = Assert.Single(events, e => e.Kind == DataEventKind.BadSample);
        Assert.Equal("n01440764/twelve_bit", bad.Sample!.Key);
        Assert.Equal(BadSampleReason.CorruptImage, bad.Sample.Reason);
        Assert.Contains("n01440764/twelve_bit", bad.Message);
        Assert.Contains("12-bit JPEG (SOF1) is not supported", bad.Message);
        Assert.Equal(1, events.Single(e => e.Kind == DataEventKind.EpochEnd).Health!.Count(BadSampleReason.CorruptImage));
    }

    [Fact]
    public void Pack_KeepsProgressiveAndArithmeticAndSkipsTwelveBitWithTheReason()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { "progressive.jpg", "arithmetic.jpg", "12bit.jpg" }) File.WriteAllBytes(dir.File(name), Fixture(name));
        Assert.Equal(Fixture("progressive.jpg"), FolderPacker.Prepare(dir.File("progressive.jpg")).Bytes);
        Assert.Equal(Fixture("arithmetic.jpg"), FolderPacker.Prepare(dir.File("arithmetic.jpg")).Bytes);
        var (bytes, converted, skipped) = FolderPacker.Prepare(dir.File("12bit.jpg"));
        Assert.Null(bytes);
        Assert.Null(converted);
        Assert.Equal("12-bit JPEG (SOF1) is not supported: the decoders read 8-bit samples only", skipped);
    }

    [Theory]
    [InlineData(JpegDecoder.SkiaSharp)]
    [InlineData(JpegDecoder.TurboJpeg)]
    public void Decode_ExifOrientation_IsIgnoredLikePilAndTorchvision(JpegDecoder library)
    {
        RequireTurbo(library);
        var rotated = Fixture("exif-rotated.jpg");
        // The tag is there and readable ("rotate 90° clockwise to display"), so ignoring it is a choice, not an accident.
        using (var data = SKData.CreateCopy(rotated))
        using (var codec = SKCodec.Create(data))
            Assert.Equal(SKEncodedOrigin.RightTop, codec.EncodedOrigin);
        Assert.True(ImageDecoder.Probe(rotated, out int width, out int height, out _).Success);
        Assert.Equal((64, 48), (width, height));  // as stored, not swapped
        var baseline = Fixture("baseline.jpg");
        foreach (var t in Modes)
            for (int i = 0; i < 3; i++)
            {
                var expected = Decode(library, baseline, t, i, out _, out _);
                var actual = Decode(library, rotated, t, i, out var result, out _);
                Assert.True(result.Success, result.Detail);
                Assert.Equal(expected, actual);
            }
    }
}
