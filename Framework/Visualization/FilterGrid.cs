namespace Kiln.Visualization;

/// <summary>
/// Filters (K, C, R, S) as a grid of pictures, each filter contrast-normalised on its own (its minimum
/// black, its maximum white), as in the first-layer figures of Krizhevsky et al. and Zeiler &amp; Fergus.
/// First layers (C = 3) are shown in colour (BGR inputs reordered to RGB); deeper layers as the
/// mean over input channels or one cell per input channel.
/// </summary>
public static class FilterGrid
{
    private static readonly (byte, byte, byte) Background = (40, 40, 40);

    /// <summary>Draws the grid for <paramref name="weight"/> (K, C, R, S), any device and floating dtype.</summary>
    public static RgbImage Render(Tensor weight, FilterGridOptions? options = null)
    {
        var o = options ?? new FilterGridOptions();
        if (weight.Rank != 4)
            throw new ArgumentException($"filter grid: needs convolution filters (K, C, R, S), got {weight.ShapeString()}");
        int k = Math.Min(weight.Size(0), Math.Max(1, o.MaxFilters)), c = weight.Size(1), r = weight.Size(2), s = weight.Size(3);
        var mode = o.Mode == FilterGridMode.Auto ? (c == 3 ? FilterGridMode.Rgb : FilterGridMode.Mean) : o.Mode;
        if (mode == FilterGridMode.Rgb && c != 3)
            throw new ArgumentException($"filter grid: RGB needs filters with 3 input channels, got {weight.ShapeString()}; use mean or per-channel");
        float[] w = Host.Floats(weight);
        int scale = Math.Max(1, o.CellSize / Math.Max(r, s));
        int cellW = s * scale, cellH = r * scale, gap = Math.Max(0, o.Gap);
        int filterSize = c * r * s, plane = r * s;

        if (mode == FilterGridMode.PerChannel)
        {
            int channels = Math.Min(c, Math.Max(1, o.MaxChannels));
            var grid = new RgbImage(gap + channels * (cellW + gap), gap + k * (cellH + gap), Background);
            var cell = new float[plane];
            for (int f = 0; f < k; f++)
            {
                // One normalisation per filter across its channels, so the channels stay comparable.
                var all = w.AsSpan(f * filterSize, filterSize);
                var (lo, hi) = Range(all);
                for (int ch = 0; ch < channels; ch++)
                {
                    Normalise(all.Slice(ch * plane, plane), cell, lo, hi);
                    grid.Paste(cell, 1, r, s, gap + ch * (cellW + gap), gap + f * (cellH + gap), scale);
                }
            }
            return grid;
        }

        int cols = o.Columns > 0 ? o.Columns : (int)Math.Ceiling(Math.Sqrt(k));
        int rows = (k + cols - 1) / cols;
        var image = new RgbImage(gap + cols * (cellW + gap), gap + rows * (cellH + gap), Background);
        int outChannels = mode == FilterGridMode.Rgb ? 3 : 1;
        var pixels = new float[outChannels * plane];
        var mean = new float[plane];
        for (int f = 0; f < k; f++)
        {
            var filter = w.AsSpan(f * filterSize, filterSize);
            ReadOnlySpan<float> src = filter;
            if (mode == FilterGridMode.Mean)
            {
                Array.Clear(mean);
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < plane; i++) mean[i] += filter[ch * plane + i] / c;
                src = mean;
            }
            var (lo, hi) = Range(src);
            Normalise(src, pixels, lo, hi);
            if (mode == FilterGridMode.Rgb && o.InputOrder == Kiln.Data.ChannelOrder.Bgr)
                for (int i = 0; i < plane; i++) (pixels[i], pixels[2 * plane + i]) = (pixels[2 * plane + i], pixels[i]);
            image.Paste(pixels, outChannels, r, s, gap + f % cols * (cellW + gap), gap + f / cols * (cellH + gap), scale);
        }
        return image;
    }

    /// <summary>Renders and writes a PNG.</summary>
    public static RgbImage Save(Tensor weight, string path, FilterGridOptions? options = null)
    {
        var image = Render(weight, options);
        image.SavePng(path);
        return image;
    }

    private static (float Lo, float Hi) Range(ReadOnlySpan<float> v)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float x in v)
        {
            if (x < lo) lo = x;
            if (x > hi) hi = x;
        }
        return (lo, hi);
    }

    private static void Normalise(ReadOnlySpan<float> src, Span<float> dst, float lo, float hi)
    {
        float span = hi - lo;
        for (int i = 0; i < src.Length; i++) dst[i] = span > 0 ? (src[i] - lo) / span : 0.5f;
    }
}
