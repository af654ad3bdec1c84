using Kiln.Serialization;
using SkiaSharp;

namespace Kiln.Visualization;

/// <summary>PNG files: written atomically (a reader never sees half a picture, e.g. curves.png during training).</summary>
public static class Png
{
    public static void Save(SKBitmap bitmap, string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"PNG encoding of a {bitmap.Width}x{bitmap.Height} picture failed (writing {path})");
        AtomicFile.Write(path, s => data.SaveTo(s));
    }

    public static void Save(byte[] pngBytes, string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.Write(path, s => s.Write(pngBytes));
    }
}
