namespace Kiln.Data;

/// <summary>
/// All augmentation geometry in one place: given the source size and the sample's random source,
/// the boxes to cut (in source pixels). Decoding then fetches only the region and scale the boxes
/// need, and <see cref="Resampler"/> produces the output. Random draws are consumed in a fixed order
/// (crop, then flip, then lighting in the decoder) so a sample's augmentation depends only on its seed.
/// </summary>
public static class Geometry
{
    /// <summary>Fills <paramref name="views"/> (length ≥ <see cref="TransformOptions.Views"/>) and returns the view count.</summary>
    public static int Plan(TransformOptions t, int width, int height, ref SampleRandom random, Span<CropBox> views)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        int s = t.OutputSize;
        CropBox box;
        switch (t.Mode)
        {
            case CropMode.RandomResizedCrop:
                box = RandomResizedCrop(t, width, height, ref random);
                break;
            case CropMode.ScaleJitter:
                {
                    int shorter = random.NextInt(t.ShorterMin, t.ShorterMax);
                    box = RandomCropOfResized(width, height, shorter, s, ref random);
                    break;
                }
            case CropMode.ResizeRandomCrop:
                {
                    int ox = random.NextInt(0, t.Resize - s), oy = random.NextInt(0, t.Resize - s);
                    double fx = (double)width / t.Resize, fy = (double)height / t.Resize;
                    box = new CropBox(ox * fx, oy * fy, s * fx, s * fy, false);
                    break;
                }
            case CropMode.PadRandomCrop:
                {
                    // Offsets in output pixels of the padded (s + 2·pad)² canvas: a box reaching outside the image
                    // reads zeros there (ImageDecoder fills them after the resample).
                    int ox = random.NextInt(-t.Pad, t.Pad), oy = random.NextInt(-t.Pad, t.Pad);
                    double fx = (double)width / s, fy = (double)height / s;
                    box = new CropBox(ox * fx, oy * fy, s * fx, s * fy, false);
                    break;
                }
            case CropMode.ResizeCenterCrop:
                {
                    int o = (int)Math.Round((t.Resize - s) / 2.0, MidpointRounding.ToEven);
                    double fx = (double)width / t.Resize, fy = (double)height / t.Resize;
                    box = new CropBox(o * fx, o * fy, s * fx, s * fy, false);
                    break;
                }
            case CropMode.CenterCrop:
                box = CenterOfResized(width, height, t.Resize, s);
                break;
            case CropMode.TenCrop:
                TenCrop(width, height, t.Resize, s, views);
                return 10;
            case CropMode.Full:
                box = new CropBox(0, 0, width, height, false);
                break;
            case CropMode.MultiScale:
                MultiScale(width, height, t.Scales, s, views);
                return 2 * t.Scales.Length;
            case CropMode.Dense:
                for (int k = 0; k < t.Scales.Length; k++)
                {
                    views[2 * k] = DenseView(width, height, t.Scales[k], t.DenseMaxAspect).Box;
                    views[2 * k + 1] = views[2 * k] with { Flip = true };
                }
                return 2 * t.Scales.Length;
            default:
                throw new ArgumentOutOfRangeException(nameof(t), $"unknown crop mode {t.Mode}");
        }
        if (t.Flip && random.NextWord() >> 31 != 0) box = box with { Flip = true };
        views[0] = box;
        return 1;
    }

    /// <summary>torchvision's RandomResizedCrop.get_params: ten tries, then a centre crop clamped to the aspect range.</summary>
    public static CropBox RandomResizedCrop(TransformOptions t, int width, int height, ref SampleRandom random)
    {
        double area = (double)width * height;
        double logMin = Math.Log(t.AspectMin), logMax = Math.Log(t.AspectMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * random.Uniform(t.AreaMin, t.AreaMax);
            double aspect = Math.Exp(random.Uniform(logMin, logMax));
            int w = (int)Math.Round(Math.Sqrt(target * aspect));
            int h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= width && h <= height)
            {
                int x = random.NextInt(0, width - w), y = random.NextInt(0, height - h);
                return new CropBox(x, y, w, h, false);
            }
        }
        double ratio = (double)width / height;
        int cw, ch;
        if (ratio < t.AspectMin) { cw = width; ch = (int)Math.Round(cw / t.AspectMin); }
        else if (ratio > t.AspectMax) { ch = height; cw = (int)Math.Round(ch * t.AspectMax); }
        else { cw = width; ch = height; }
        cw = Math.Clamp(cw, 1, width);
        ch = Math.Clamp(ch, 1, height);
        return new CropBox((width - cw) / 2, (height - ch) / 2, cw, ch, false);
    }

    /// <summary>Resize so the shorter side is <paramref name="shorter"/>, then a random <paramref name="size"/> crop; returned in source pixels.</summary>
    public static CropBox RandomCropOfResized(int width, int height, int shorter, int size, ref SampleRandom random)
    {
        var (rw, rh, f) = ResizedShorter(width, height, shorter);
        int ox = random.NextInt(0, Math.Max(0, rw - size)), oy = random.NextInt(0, Math.Max(0, rh - size));
        return new CropBox(ox / f, oy / f, Math.Min(size, rw) / f, Math.Min(size, rh) / f, false);
    }

    /// <summary>Resize so the shorter side is <paramref name="shorter"/>, then the centre <paramref name="size"/> crop (torchvision's rounding).</summary>
    public static CropBox CenterOfResized(int width, int height, int shorter, int size)
    {
        var (rw, rh, f) = ResizedShorter(width, height, shorter);
        int ox = (int)Math.Round((rw - size) / 2.0, MidpointRounding.ToEven), oy = (int)Math.Round((rh - size) / 2.0, MidpointRounding.ToEven);
        return new CropBox(Math.Max(0, ox) / f, Math.Max(0, oy) / f, Math.Min(size, rw) / f, Math.Min(size, rh) / f, false);
    }

    /// <summary>Ten views in torchvision's order: top-left, top-right, bottom-left, bottom-right, centre, then the same five mirrored.</summary>
    public static void TenCrop(int width, int height, int shorter, int size, Span<CropBox> views)
    {
        var (rw, rh, f) = ResizedShorter(width, height, shorter);
        double s = size / f;
        views[0] = new CropBox(0, 0, s, s, false);
        views[1] = new CropBox((rw - size) / f, 0, s, s, false);
        views[2] = new CropBox(0, (rh - size) / f, s, s, false);
        views[3] = new CropBox((rw - size) / f, (rh - size) / f, s, s, false);
        views[4] = CenterOfResized(width, height, shorter, size);
        for (int i = 0; i < 5; i++) views[5 + i] = views[i] with { Flip = true };
    }

    /// <summary>Two views per scale, scale by scale: the centre <paramref name="size"/> crop of the image resized to shorter side Q, then its mirror image.</summary>
    public static void MultiScale(int width, int height, ReadOnlySpan<int> scales, int size, Span<CropBox> views)
    {
        for (int k = 0; k < scales.Length; k++)
        {
            views[2 * k] = CenterOfResized(width, height, scales[k], size);
            views[2 * k + 1] = views[2 * k] with { Flip = true };
        }
    }

    /// <summary>
    /// Dense evaluation at shorter side <paramref name="scale"/>: the output size (the shorter side Q, the longer in
    /// proportion, rounded, but at most ⌊<paramref name="maxAspect"/>·Q⌋) and the box of the source it shows: the whole
    /// image, or when the longer side was capped its centre part of that aspect.
    /// </summary>
    public static (CropBox Box, int Width, int Height) DenseView(int width, int height, int scale, double maxAspect)
    {
        int shorter = Math.Min(width, height), longer = Math.Max(width, height);
        double f = (double)scale / shorter;
        int cap = (int)(scale * maxAspect);
        int outLong = Math.Clamp((int)Math.Round(longer * f, MidpointRounding.ToEven), scale, cap);
        double boxLong = longer * f > cap ? outLong / f : longer;
        double offset = (longer - boxLong) / 2;
        return width >= height
            ? (new CropBox(offset, 0, boxLong, height, false), outLong, scale)
            : (new CropBox(0, offset, width, boxLong, false), scale, outLong);
    }

    /// <summary>Resized dimensions with the shorter side = <paramref name="shorter"/>, and the scale factor.</summary>
    private static (int Width, int Height, double Factor) ResizedShorter(int width, int height, int shorter)
    {
        double f = (double)shorter / Math.Min(width, height);
        int rw = width <= height ? shorter : (int)(width * f);
        int rh = height < width ? shorter : (int)(height * f);
        return (rw, rh, f);
    }
}
