namespace Kiln.Data;

/// <summary>
/// Colour jitter as in fb.resnet.torch (<c>ColorJitter{brightness, contrast, saturation}</c>, 0.4 each in its
/// ResNet recipe): the three operations in a random order, each blending the image with a target by
/// α = 1 + U(−v, v): brightness with black, saturation with the pixel's grey, contrast with the image's
/// mean grey. All three are affine in the pixel, so the composition is one 3×3 matrix and offset
/// (<c>p' = M·p + t</c>, RGB in [0, 1]) that the fused resample pass applies for free.
/// </summary>
public static class ColorJitter
{
    /// <summary>BT.601 luma weights, as torch's grayscale.</summary>
    public static ReadOnlySpan<double> Luma => [0.299, 0.587, 0.114];

    /// <summary>
    /// Draws the order and factors and composes them into <paramref name="m"/> (3×3, row-major) and
    /// <paramref name="t"/>, for an image whose mean RGB (in [0, 1]) is <paramref name="meanRgb"/>.
    /// </summary>
    public static void Sample(ref SampleRandom random, double brightness, double contrast, double saturation,
        ReadOnlySpan<double> meanRgb, Span<double> m, Span<double> t)
    {
        Span<int> order = [0, 1, 2];
        for (int i = 2; i > 0; i--)
        {
            int j = random.NextInt(0, i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        Span<double> strength = [brightness, contrast, saturation];
        Span<double> alpha = [1, 1, 1];
        for (int i = 0; i < 3; i++)
            if (strength[order[i]] > 0) alpha[order[i]] = 1 + random.Uniform(-strength[order[i]], strength[order[i]]);
        Compose(order, alpha, meanRgb, m, t);
    }

    /// <summary>Composes the operations in <paramref name="order"/> (0 brightness, 1 contrast, 2 saturation) with factors <paramref name="alpha"/>.</summary>
    public static void Compose(ReadOnlySpan<int> order, ReadOnlySpan<double> alpha, ReadOnlySpan<double> meanRgb, Span<double> m, Span<double> t)
    {
        m.Clear();
        t.Clear();
        m[0] = m[4] = m[8] = 1;
        Span<double> step = stackalloc double[9];
        Span<double> shift = stackalloc double[3];
        Span<double> nm = stackalloc double[9];
        Span<double> nt = stackalloc double[3];
        var w = Luma;
        foreach (int op in order)
        {
            double a = alpha[op];
            step.Clear();
            shift.Clear();
            switch (op)
            {
                case 0: // brightness: a·q
                    step[0] = step[4] = step[8] = a;
                    break;
                case 1: // contrast: a·q + (1 − a)·mean grey of q, with mean q = M·mean p + t
                    {
                        double grey = 0;
                        for (int r = 0; r < 3; r++)
                            grey += w[r] * (m[3 * r] * meanRgb[0] + m[3 * r + 1] * meanRgb[1] + m[3 * r + 2] * meanRgb[2] + t[r]);
                        step[0] = step[4] = step[8] = a;
                        shift[0] = shift[1] = shift[2] = (1 - a) * grey;
                        break;
                    }
                case 2: // saturation: a·q + (1 − a)·(w·q)
                    for (int r = 0; r < 3; r++)
                        for (int c = 0; c < 3; c++)
                            step[3 * r + c] = (r == c ? a : 0) + (1 - a) * w[c];
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(order), $"unknown colour operation {op}");
            }
            // (M, t) ← (step·M, step·t + shift)
            for (int r = 0; r < 3; r++)
            {
                for (int c = 0; c < 3; c++)
                    nm[3 * r + c] = step[3 * r] * m[c] + step[3 * r + 1] * m[3 + c] + step[3 * r + 2] * m[6 + c];
                nt[r] = step[3 * r] * t[0] + step[3 * r + 1] * t[1] + step[3 * r + 2] * t[2] + shift[r];
            }
            nm.CopyTo(m);
            nt.CopyTo(t);
        }
    }
}
