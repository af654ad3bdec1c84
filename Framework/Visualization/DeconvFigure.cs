using Kiln.Data;

namespace Kiln.Visualization;

/// <summary>
/// Zeiler &amp; Fergus's figure 2 for one feature map: a grid of deconvnet projections (left) beside the
/// image patches they come from (right), each cropped to the receptive field of the activation.
/// </summary>
public static class DeconvFigure
{
    private static readonly (byte, byte, byte) Background = (30, 30, 30);

    /// <summary>
    /// One panel: the projection and the input image (both (C, H, W)), the receptive field clipped to the
    /// image (<paramref name="Box"/>) and, optionally, unclipped (<paramref name="Field"/>), so a field cut
    /// by the border is drawn where it lies in the field rather than centred.
    /// </summary>
    public readonly record struct Item(float[] Projection, float[] Image, int Channels, int Height, int Width, PixelBox Box, PixelBox? Field = null);

    /// <summary>Draws the figure; cells are the largest receptive field, enlarged to at least <paramref name="minCell"/> pixels.</summary>
    public static RgbImage Render(IReadOnlyList<Item> items, Normalization normalization, int minCell = 64, int gap = 2)
    {
        if (items.Count == 0) throw new ArgumentException("deconv figure: no activations to draw");
        int boxSide = items.Max(i => Math.Max(Math.Max(i.Box.Width, i.Box.Height), i.Field is { } f ? Math.Max(f.Width, f.Height) : 0));
        int scale = Math.Max(1, (minCell + boxSide - 1) / boxSide);
        int cell = boxSide * scale;
        int cols = (int)Math.Ceiling(Math.Sqrt(items.Count));
        int rows = (items.Count + cols - 1) / cols;
        int blockW = cols * (cell + gap) + gap, blockH = rows * (cell + gap) + gap;
        int middle = 3 * gap + 4;
        var image = new RgbImage(2 * blockW + middle, blockH, Background);
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            int cx = gap + i % cols * (cell + gap), cy = gap + i / cols * (cell + gap);
            var projection = ImageDisplay.SignedToRgb(ImageDisplay.Crop(it.Projection, it.Channels, it.Height, it.Width, it.Box),
                it.Channels, it.Box.Height, it.Box.Width, normalization);
            var patch = ImageDisplay.ToRgb(ImageDisplay.Crop(it.Image, it.Channels, it.Height, it.Width, it.Box),
                it.Channels, it.Box.Height, it.Box.Width, normalization);
            // Receptive fields clipped at the border are smaller: put them where they lie in the whole field, else centre them.
            int ox = it.Field is { } f ? (it.Box.X0 - f.X0) * scale : (boxSide - it.Box.Width) * scale / 2;
            int oy = it.Field is { } g ? (it.Box.Y0 - g.Y0) * scale : (boxSide - it.Box.Height) * scale / 2;
            image.Paste(projection, 3, it.Box.Height, it.Box.Width, cx + ox, cy + oy, scale);
            image.Paste(patch, 3, it.Box.Height, it.Box.Width, blockW + middle + cx + ox, cy + oy, scale);
        }
        image.Fill(blockW + gap, 0, 4, blockH, (90, 90, 90));
        return image;
    }
}
