namespace Kiln.Data;

/// <summary>
/// A generated image-classification set for smoke tests and the demo: 3×S×S images of four classes
/// (0 horizontal bar, 1 vertical bar, 2 diagonal line, 3 filled square) at random positions and
/// colours over Gaussian noise. Sample i of a seed is always the same image, on any thread.
/// </summary>
public sealed class SyntheticShapes(int imageSize = 16, ulong seed = 0)
{
    public const int Classes = 4;
    public int ImageSize { get; } = imageSize >= 8 ? imageSize : throw new ArgumentOutOfRangeException(nameof(imageSize), "images must be at least 8 pixels wide");

    /// <summary>Fills <paramref name="pixels"/> (count, 3, S, S) and <paramref name="labels"/> with samples first .. first + count − 1.</summary>
    public void Fill(long first, int count, Span<float> pixels, Span<int> labels)
    {
        int s = ImageSize, plane = s * s;
        if (pixels.Length != count * 3 * plane || labels.Length != count)
            throw new ArgumentException($"buffers for {count} samples of 3x{s}x{s} need {count * 3 * plane} pixels and {count} labels");
        for (int n = 0; n < count; n++)
        {
            var g = new RandomGenerator(seed, (ulong)(first + n) << 20);
            int label = g.NextInt(Classes);
            labels[n] = label;
            var img = pixels.Slice(n * 3 * plane, 3 * plane);
            g.Normal<float>(img, 0, 0.6);
            int len = s / 2 + g.NextInt(s / 4);
            int r0 = g.NextInt(s - len + 1), c0 = g.NextInt(s - len + 1);
            Span<float> colour = [0.5f + (float)g.NextDouble(), 0.5f + (float)g.NextDouble(), 0.5f + (float)g.NextDouble()];
            for (int k = 0; k < len; k++)
            {
                switch (label)
                {
                    case 0: Paint(img, s, r0 + len / 2, c0 + k, colour); break;
                    case 1: Paint(img, s, r0 + k, c0 + len / 2, colour); break;
                    case 2: Paint(img, s, r0 + k, c0 + k, colour); break;
                    default:
                        for (int j = 0; j < len / 2; j++)
                            if (k < len / 2) Paint(img, s, r0 + k, c0 + j, colour);
                        break;
                }
            }
        }
    }

    private static void Paint(Span<float> img, int s, int r, int c, ReadOnlySpan<float> colour)
    {
        for (int ch = 0; ch < 3; ch++) img[ch * s * s + r * s + c] += colour[ch];
    }
}
