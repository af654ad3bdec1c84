using SkiaSharp;

namespace Kiln.Data;

/// <summary>Writes <see cref="SyntheticShapes"/> samples as PNG tar shards: tiny, generated datasets with the loader's full code path.</summary>
public static class SyntheticShapesPacker
{
    /// <summary>
    /// Writes samples <paramref name="first"/> .. first + count − 1 into <c>{prefix}-NNNNNN.tar</c> shards of
    /// <paramref name="perShard"/> samples; returns the brace spec of the shards. Pixels map to bytes as
    /// clamp(128 + 60·v), losslessly stored, so reading them back is exact and deterministic.
    /// </summary>
    public static string Write(string outDir, string prefix, long first, int count, int perShard = 100, int imageSize = 16, ulong seed = 0)
    {
        if (count < 1 || perShard < 1) throw new ArgumentException($"count and samples per shard must be at least 1, got {count} and {perShard}");
        Directory.CreateDirectory(outDir);
        var shapes = new SyntheticShapes(imageSize, seed);
        int plane = imageSize * imageSize;
        var pixels = new float[3 * plane];
        var label = new int[1];
        int shards = (count + perShard - 1) / perShard;
        for (int s = 0; s < shards; s++)
        {
            using var writer = new ShardWriter(Path.Combine(outDir, $"{prefix}-{s:D6}.tar"));
            for (int i = s * perShard; i < Math.Min(count, (s + 1) * perShard); i++)
            {
                shapes.Fill(first + i, 1, pixels, label);
                using var bitmap = new SKBitmap(new SKImageInfo(imageSize, imageSize, SKColorType.Rgba8888, SKAlphaType.Opaque));
                var span = bitmap.GetPixelSpan();
                for (int p = 0; p < plane; p++)
                {
                    for (int c = 0; c < 3; c++) span[4 * p + c] = (byte)Math.Clamp(128 + 60 * pixels[c * plane + p], 0, 255);
                    span[4 * p + 3] = 255;
                }
                using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("PNG encoding failed");
                writer.WriteSample($"shape{first + i:D8}", png.ToArray(), "png", label[0]);
            }
            writer.Complete();
        }
        return Path.Combine(outDir, shards == 1 ? $"{prefix}-000000.tar" : $"{prefix}-{{000000..{shards - 1:D6}}}.tar");
    }
}
