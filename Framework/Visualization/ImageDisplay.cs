using Kiln.Data;

namespace Kiln.Visualization;

/// <summary>Network inputs back to displayable RGB in [0, 1], and display scaling for signed maps.</summary>
public static class ImageDisplay
{
    /// <summary>
    /// Undoes <paramref name="normalization"/> on one image (C, H, W) and returns RGB planes (3, H, W) in
    /// [0, 1] (BGR inputs are reordered; one channel is repeated).
    /// </summary>
    public static float[] ToRgb(ReadOnlySpan<float> chw, int channels, int height, int width, Normalization normalization)
    {
        int plane = height * width;
        var rgb = new float[3 * plane];
        for (int c = 0; c < 3; c++)
        {
            int src = channels == 1 ? 0 : normalization.Order == ChannelOrder.Bgr ? 2 - c : c;
            float mean = normalization.Mean[src], std = normalization.Std[src], range = normalization.PixelRange;
            for (int i = 0; i < plane; i++)
                rgb[c * plane + i] = Math.Clamp((chw[src * plane + i] * std + mean) / range, 0f, 1f);
        }
        return rgb;
    }

    /// <summary>
    /// A signed map (C, H, W) scaled for display: zero is mid-grey and the largest magnitude reaches 0 or 1
    /// (Zeiler &amp; Fergus's projections). Channels follow <paramref name="normalization"/>'s order, reordered to RGB.
    /// </summary>
    public static float[] SignedToRgb(ReadOnlySpan<float> chw, int channels, int height, int width, Normalization normalization)
    {
        int plane = height * width;
        float max = 0;
        for (int i = 0; i < channels * plane; i++) max = Math.Max(max, Math.Abs(chw[i]));
        float scale = max > 0 ? 0.5f / max : 0;
        var rgb = new float[3 * plane];
        for (int c = 0; c < 3; c++)
        {
            int src = channels == 1 ? 0 : normalization.Order == ChannelOrder.Bgr ? 2 - c : c;
            for (int i = 0; i < plane; i++) rgb[c * plane + i] = 0.5f + chw[src * plane + i] * scale;
        }
        return rgb;
    }

    /// <summary>Copies box <paramref name="box"/> out of planes (C, H, W).</summary>
    public static float[] Crop(ReadOnlySpan<float> chw, int channels, int height, int width, PixelBox box)
    {
        var dst = new float[channels * box.Height * box.Width];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < box.Height; y++)
                chw.Slice(c * height * width + (box.Y0 + y) * width + box.X0, box.Width)
                    .CopyTo(dst.AsSpan((c * box.Height + y) * box.Width, box.Width));
        return dst;
    }
}
