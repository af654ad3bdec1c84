using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

/// <summary>Generated images and shards for the data tests, in a temporary folder deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kiln-data-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

internal static class DataFixtures
{
    /// <summary>An RGBA image from a pixel function, encoded as JPEG or PNG.</summary>
    public static byte[] Encode(int width, int height, Func<int, int, (byte R, byte G, byte B)> pixel,
        SKEncodedImageFormat format = SKEncodedImageFormat.Jpeg, int quality = 95)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var span = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = pixel(x, y);
                int o = 4 * (y * width + x);
                span[o] = r; span[o + 1] = g; span[o + 2] = b; span[o + 3] = 255;
            }
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A grey JPEG (one component).</summary>
    public static byte[] GrayJpeg(int width, int height, Func<int, int, byte> pixel)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var span = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) span[y * width + x] = pixel(x, y);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
        return data.ToArray();
    }

    /// <summary>A small JPEG whose colour encodes the label, with a horizontal gradient so crops differ.</summary>
    public static byte[] LabelledJpeg(int label, int width = 40, int height = 32) =>
        Encode(width, height, (x, y) => ((byte)(label * 20 % 256), (byte)(x * 255 / Math.Max(1, width - 1)), (byte)(y * 255 / Math.Max(1, height - 1))), quality: 85);

    /// <summary>Writes shards with the given sample counts; keys are s{shard}_{i}; label = (shard + i) mod classes. Returns all keys.</summary>
    public static List<string> WriteShards(string dir, IReadOnlyList<int> counts, int numClasses = 5, string prefix = "train")
    {
        var keys = new List<string>();
        var cache = new Dictionary<int, byte[]>();
        for (int s = 0; s < counts.Count; s++)
        {
            using var writer = new ShardWriter(System.IO.Path.Combine(dir, $"{prefix}-{s:D6}.tar"));
            for (int i = 0; i < counts[s]; i++)
            {
                int label = (s + i) % numClasses;
                if (!cache.TryGetValue(label, out var jpeg)) cache[label] = jpeg = LabelledJpeg(label);
                string key = $"s{s}_{i:D4}";
                writer.WriteSample(key, jpeg, "jpg", label);
                keys.Add(key);
            }
            writer.Complete();
        }
        return keys;
    }

    /// <summary>The brace spec for shards written by <see cref="WriteShards"/>.</summary>
    public static string Spec(string dir, int shards, string prefix = "train") =>
        System.IO.Path.Combine(dir, shards == 1 ? $"{prefix}-000000.tar" : $"{prefix}-{{000000..{shards - 1:D6}}}.tar");

    /// <summary>Small, fast loader settings: 16×16 crops, no lighting.</summary>
    public static LoaderOptions SmallOptions(string spec, int batch = 4, int workers = 2, ulong seed = 7) => new()
    {
        Shards = spec,
        BatchSize = batch,
        Workers = workers,
        Seed = seed,
        NumClasses = 5,
        ShuffleBuffer = 8,
        MinSamplesForBadFraction = 1,
        Transform = new TransformOptions { OutputSize = 16, Mode = CropMode.RandomResizedCrop, Flip = true },
    };

    /// <summary>Patches a JPEG's SOF0/SOF2 frame header to claim the given size (a decompression bomb).</summary>
    public static byte[] WithDeclaredSize(byte[] jpeg, int width, int height)
    {
        var bytes = (byte[])jpeg.Clone();
        for (int i = 2; i + 9 < bytes.Length; i++)
        {
            if (bytes[i] == 0xFF && bytes[i + 1] is 0xC0 or 0xC2)
            {
                bytes[i + 5] = (byte)(height >> 8); bytes[i + 6] = (byte)height;
                bytes[i + 7] = (byte)(width >> 8); bytes[i + 8] = (byte)width;
                return bytes;
            }
        }
        throw new InvalidOperationException("no SOF marker");
    }
}
