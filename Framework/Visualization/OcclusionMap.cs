using Kiln.Core.Autograd;
using Kiln.Data;
using Kiln.Nn;

namespace Kiln.Visualization;

/// <summary>
/// Zeiler &amp; Fergus's occlusion experiment (figure 7): a grey square slides over the image; at each
/// position the classifier's probability of one class, and its most probable class, are recorded.
/// Position (row, col) has the square's top-left corner at (row·stride, col·stride); the last row and
/// column are added so the square also touches the bottom and right edges.
/// </summary>
public sealed class OcclusionMap
{
    private OcclusionMap(int rows, int cols, int patch, int stride, int targetClass, float baseProbability,
        float[] probability, int[] topClass, float[] topProbability, int[] ys, int[] xs)
    {
        Rows = rows; Cols = cols; Patch = patch; Stride = stride; TargetClass = targetClass;
        BaseProbability = baseProbability; Probability = probability; TopClass = topClass; TopProbability = topProbability;
        RowOffsets = ys; ColOffsets = xs;
    }

    public int Rows { get; }
    public int Cols { get; }
    public int Patch { get; }
    public int Stride { get; }
    /// <summary>The class whose probability <see cref="Probability"/> holds.</summary>
    public int TargetClass { get; }
    /// <summary>The target class's probability on the unoccluded image.</summary>
    public float BaseProbability { get; }
    /// <summary>Rows x Cols, row-major: probability of <see cref="TargetClass"/> with the square at each position.</summary>
    public float[] Probability { get; }
    /// <summary>Rows x Cols: the most probable class with the square at each position.</summary>
    public int[] TopClass { get; }
    public float[] TopProbability { get; }
    /// <summary>Top edge of the square for each row; left edge for each column.</summary>
    public int[] RowOffsets { get; }
    public int[] ColOffsets { get; }

    /// <summary>
    /// Runs <paramref name="model"/> (in evaluation mode, without gradients) on <paramref name="image"/>
    /// (C, H, W) or (1, C, H, W), normalised as the model expects, with a square of
    /// <paramref name="fill"/> (per channel, in normalised units; default 0, the mean colour under
    /// mean/std normalisation) at every position. <paramref name="targetClass"/> defaults to the top
    /// class of the unoccluded image. The model must return logits (N, classes).
    /// </summary>
    public static OcclusionMap Compute(Module model, Tensor image, int patch = 32, int stride = 8, int? targetClass = null,
        float[]? fill = null, int batchSize = 32)
    {
        var shape = image.Rank == 3 ? image.Shape.ToArray() : image.Rank == 4 && image.Size(0) == 1 ? image.Shape[1..].ToArray()
            : throw new ArgumentException($"occlusion: needs one image (C, H, W) or (1, C, H, W), got {image.ShapeString()}");
        int c = shape[0], h = shape[1], w = shape[2];
        if (patch < 1 || patch > Math.Min(h, w)) throw new ArgumentException($"occlusion: patch {patch} must be in [1, {Math.Min(h, w)}] for a {h}x{w} image");
        if (stride < 1) throw new ArgumentException($"occlusion: stride must be at least 1, got {stride}");
        if (fill is not null && fill.Length != c) throw new ArgumentException($"occlusion: fill has {fill.Length} values for {c} channels");
        var pixels = Host.Floats(image);
        var ys = Offsets(h, patch, stride);
        var xs = Offsets(w, patch, stride);
        int positions = ys.Length * xs.Length;
        bool wasTraining = model.IsTraining;
        model.Eval();
        try
        {
            var baseProbs = Probabilities(model, pixels, 1, shape);
            int classes = baseProbs.Length;
            int target = targetClass ?? ArgMax(baseProbs, 0, classes);
            if ((uint)target >= (uint)classes) throw new ArgumentException($"occlusion: class {target} is outside the model's {classes} classes");
            var prob = new float[positions];
            var top = new int[positions];
            var topP = new float[positions];
            int per = c * h * w;
            batchSize = Math.Max(1, batchSize);
            var batch = new float[batchSize * per];
            for (int first = 0; first < positions; first += batchSize)
            {
                int n = Math.Min(batchSize, positions - first);
                for (int b = 0; b < n; b++)
                {
                    var dst = batch.AsSpan(b * per, per);
                    pixels.AsSpan(0, per).CopyTo(dst);
                    int y0 = ys[(first + b) / xs.Length], x0 = xs[(first + b) % xs.Length];
                    for (int ch = 0; ch < c; ch++)
                    {
                        float v = fill?[ch] ?? 0f;
                        for (int y = y0; y < y0 + patch; y++) dst.Slice(ch * h * w + y * w + x0, patch).Fill(v);
                    }
                }
                var probs = Probabilities(model, batch, n, shape);
                for (int b = 0; b < n; b++)
                {
                    int i = first + b;
                    prob[i] = probs[b * classes + target];
                    top[i] = ArgMax(probs, b * classes, classes);
                    topP[i] = probs[b * classes + top[i]];
                }
            }
            return new OcclusionMap(ys.Length, xs.Length, patch, stride, target, baseProbs[target], prob, top, topP, ys, xs);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    private static int[] Offsets(int size, int patch, int stride)
    {
        var list = new List<int>();
        for (int o = 0; o + patch <= size; o += stride) list.Add(o);
        if (list[^1] + patch < size) list.Add(size - patch);
        return [.. list];
    }

    private static float[] Probabilities(Module model, float[] pixels, int n, int[] chw)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var x = Tensor.FromSpan<float>(pixels.AsSpan(0, n * chw[0] * chw[1] * chw[2]), [n, chw[0], chw[1], chw[2]]);
        var device = model.Parameters().FirstOrDefault()?.Value.Device ?? Device.Cpu;
        if (device != Device.Cpu) x = x.To(device);
        var logits = model.Forward(x);
        if (logits.Rank != 2 || logits.Size(0) != n)
            throw new InvalidOperationException($"occlusion: the model must return logits (N, classes), got {logits.ShapeString()} for {n} images");
        return Host.Floats(Op.Softmax(logits, 1));
    }

    private static int ArgMax(float[] v, int offset, int count)
    {
        int best = 0;
        for (int i = 1; i < count; i++) if (v[offset + i] > v[offset + best]) best = i;
        return best;
    }

    /// <summary>
    /// The probability map over the image: each pixel takes the value of the square position whose
    /// centre is nearest, on the jet scale (probability 0 dark blue, 1 dark red, absolute, as in the
    /// paper), blended with the image's grey levels so the colours of the image cannot be mistaken for
    /// the map's; left of it the image itself. Width 2·W·scale + gap.
    /// </summary>
    public RgbImage RenderHeatMap(ReadOnlySpan<float> imageChw, int channels, int height, int width, Normalization normalization, int scale = 1)
    {
        var rgb = ImageDisplay.ToRgb(imageChw, channels, height, width, normalization);
        var map = new RgbImage(width, height);
        int plane = height * width;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                float p = Probability[Cell(y, x)];
                var (r, g, b) = ColorMaps.Jet(p);
                float l = 0.35f * Luma(rgb, plane, y * width + x);
                map.SetUnit(x, y, 0.65f * r + l, 0.65f * g + l, 0.65f * b + l);
            }
        return SideBySide(rgb, height, width, map, scale);
    }

    /// <summary>The most probable class per position, one colour per class (target class in red) over the image's grey levels, beside the image.</summary>
    public RgbImage RenderClassMap(ReadOnlySpan<float> imageChw, int channels, int height, int width, Normalization normalization, int scale = 1)
    {
        var rgb = ImageDisplay.ToRgb(imageChw, channels, height, width, normalization);
        var map = new RgbImage(width, height);
        int plane = height * width;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int k = TopClass[Cell(y, x)];
                var (r, g, b) = k == TargetClass ? ((byte)220, (byte)40, (byte)40) : ColorMaps.Category(k);
                float l = 0.25f * Luma(rgb, plane, y * width + x);
                map.SetUnit(x, y, 0.75f * r / 255f + l, 0.75f * g / 255f + l, 0.75f * b / 255f + l);
            }
        return SideBySide(rgb, height, width, map, scale);
    }

    private static float Luma(float[] rgb, int plane, int i) => 0.299f * rgb[i] + 0.587f * rgb[plane + i] + 0.114f * rgb[2 * plane + i];

    /// <summary>The position whose square centre is nearest pixel (y, x).</summary>
    public int Cell(int y, int x) => Nearest(RowOffsets, y - Patch / 2.0) * Cols + Nearest(ColOffsets, x - Patch / 2.0);

    private static int Nearest(int[] offsets, double v)
    {
        int best = 0;
        for (int i = 1; i < offsets.Length; i++)
            if (Math.Abs(offsets[i] - v) < Math.Abs(offsets[best] - v)) best = i;
        return best;
    }

    private static RgbImage SideBySide(float[] rgb, int height, int width, RgbImage map, int scale)
    {
        const int gap = 4;
        scale = Math.Max(1, scale);
        var image = new RgbImage(2 * width * scale + gap, height * scale, (255, 255, 255));
        image.Paste(rgb, 3, height, width, 0, 0, scale);
        image.Paste(scale == 1 ? map : map.Resized(width * scale, height * scale), width * scale + gap, 0);
        return image;
    }
}
