using SkiaSharp;

namespace Kiln.Visualization;

/// <summary>
/// An 8-bit RGB picture being composed on the host (grids of filters, projections, heat maps),
/// written as PNG through SkiaSharp. Pixels outside the picture are ignored by the setters, so
/// callers can paste cells without clipping.
/// </summary>
public sealed class RgbImage
{
    private readonly byte[] _rgb;

    public RgbImage(int width, int height, (byte R, byte G, byte B) background = default)
    {
        if (width < 1 || height < 1 || (long)width * height > 1L << 28)
            throw new ArgumentException($"image size must be positive and at most 2^28 pixels, got {width}x{height}");
        Width = width;
        Height = height;
        _rgb = new byte[width * height * 3];
        if (background != default) Fill(0, 0, width, height, background);
    }

    public int Width { get; }
    public int Height { get; }

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return (_rgb[i], _rgb[i + 1], _rgb[i + 2]);
        }
    }

    public void Set(int x, int y, byte r, byte g, byte b)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        _rgb[i] = r;
        _rgb[i + 1] = g;
        _rgb[i + 2] = b;
    }

    /// <summary>Sets a pixel from values in [0, 1] (clamped).</summary>
    public void SetUnit(int x, int y, float r, float g, float b) => Set(x, y, ToByte(r), ToByte(g), ToByte(b));

    public void Fill(int x0, int y0, int width, int height, (byte R, byte G, byte B) c)
    {
        for (int y = y0; y < y0 + height; y++)
            for (int x = x0; x < x0 + width; x++) Set(x, y, c.R, c.G, c.B);
    }

    /// <summary>
    /// Pastes planes (3, h, w) or (1, h, w) of values in [0, 1] at (x0, y0), each source pixel drawn as a
    /// <paramref name="scale"/> x <paramref name="scale"/> block (nearest neighbour, so filters stay crisp).
    /// </summary>
    public void Paste(ReadOnlySpan<float> planes, int channels, int h, int w, int x0, int y0, int scale = 1)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"paste needs 1 or 3 channels, got {channels}");
        if (planes.Length < channels * h * w) throw new ArgumentException($"paste: {planes.Length} values cannot hold ({channels}, {h}, {w})");
        int plane = h * w;
        for (int y = 0; y < h * scale; y++)
            for (int x = 0; x < w * scale; x++)
            {
                int i = y / scale * w + x / scale;
                float r = planes[i];
                float g = channels == 3 ? planes[plane + i] : r;
                float b = channels == 3 ? planes[2 * plane + i] : r;
                SetUnit(x0 + x, y0 + y, r, g, b);
            }
    }

    /// <summary>Pastes another picture at (x0, y0).</summary>
    public void Paste(RgbImage src, int x0, int y0)
    {
        for (int y = 0; y < src.Height; y++)
            for (int x = 0; x < src.Width; x++)
            {
                var (r, g, b) = src[x, y];
                Set(x0 + x, y0 + y, r, g, b);
            }
    }

    /// <summary>A copy resized to <paramref name="width"/> x <paramref name="height"/> (nearest neighbour).</summary>
    public RgbImage Resized(int width, int height)
    {
        var dst = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(Height - 1, (int)((y + 0.5) * Height / height));
            for (int x = 0; x < width; x++)
            {
                int sx = Math.Min(Width - 1, (int)((x + 0.5) * Width / width));
                var (r, g, b) = this[sx, sy];
                dst.Set(x, y, r, g, b);
            }
        }
        return dst;
    }

    /// <summary>Draws a rectangle outline of the given thickness.</summary>
    public void Outline(int x0, int y0, int width, int height, (byte R, byte G, byte B) c, int thickness = 1)
    {
        Fill(x0, y0, width, thickness, c);
        Fill(x0, y0 + height - thickness, width, thickness, c);
        Fill(x0, y0, thickness, height, c);
        Fill(x0 + width - thickness, y0, thickness, height, c);
    }

    /// <summary>A SkiaSharp bitmap with these pixels (opaque RGBA); the caller disposes it.</summary>
    public SKBitmap ToBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[Width * Height * 4];
        for (int i = 0, j = 0; i < _rgb.Length; i += 3, j += 4)
        {
            pixels[j] = _rgb[i];
            pixels[j + 1] = _rgb[i + 1];
            pixels[j + 2] = _rgb[i + 2];
            pixels[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        return bitmap;
    }

    /// <summary>Writes a PNG (creating the directory), atomically.</summary>
    public void SavePng(string path)
    {
        using var bitmap = ToBitmap();
        Png.Save(bitmap, path);
    }

    internal static byte ToByte(float v) => v is >= 0 ? v >= 1 ? (byte)255 : (byte)(v * 255 + 0.5f) : (byte)0;
}
