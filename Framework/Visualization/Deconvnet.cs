using Kiln.Core.Autograd;

namespace Kiln.Visualization;

/// <summary>
/// Zeiler &amp; Fergus's deconvolutional network (ECCV 2014, section 2.1): an activation of a feature
/// map is projected back to pixel space by reversing each layer below it: max pooling by unpooling
/// with the switches (argmax positions) recorded in the forward pass, ReLU by rectifying the
/// reconstruction, convolution by the transposed convolution with the same filters (the
/// convolution's backward-data pass, <see cref="IBackend.Conv2dBackwardData"/>).
///
/// Note [Deconvnet approximations]. LRN, dropout (evaluation) and batch norm are passed through
/// unchanged on the way down, and biases are ignored, as in the paper's deconvnet, which has no
/// counterpart for them. Switches are the first maximum of each window in row-major order, the same
/// winner <see cref="Op.MaxPool2d(Tensor, Pool2dParams)"/> routes its gradient to. Each projection
/// starts from a map that is zero except for the chosen activation, as in the paper's figure 2.
/// </summary>
public static class Deconvnet
{
    /// <summary>
    /// Switches of max pooling x (N, C, H, W) with window <paramref name="p"/>: for each output element
    /// (N, C, P, Q), in row-major order, the index h·W + w of its window's first maximum within its
    /// (n, c) input plane. Padded positions never win.
    /// </summary>
    public static int[] Switches(Tensor x, Pool2dParams p)
    {
        if (x.Rank != 4) throw new ArgumentException($"switches: needs (N, C, H, W), got {x.ShapeString()}");
        int n = x.Size(0), c = x.Size(1), h = x.Size(2), w = x.Size(3);
        int ph = p.OutputHeight(h), pw = p.OutputWidth(w);
        var v = Host.Floats(x);
        var sw = new int[n * c * ph * pw];
        int o = 0;
        for (int plane = 0; plane < n * c; plane++)
        {
            int baseIndex = plane * h * w;
            for (int py = 0; py < ph; py++)
                for (int px = 0; px < pw; px++)
                {
                    int y0 = py * p.StrideH - p.PadH, x0 = px * p.StrideW - p.PadW;
                    int best = -1;
                    float bestValue = float.NegativeInfinity;
                    for (int y = Math.Max(0, y0); y < Math.Min(h, y0 + p.KernelH); y++)
                        for (int xx = Math.Max(0, x0); xx < Math.Min(w, x0 + p.KernelW); xx++)
                        {
                            float val = v[baseIndex + y * w + xx];
                            if (best < 0 || val > bestValue) { best = y * w + xx; bestValue = val; }
                        }
                    sw[o++] = best;
                }
        }
        return sw;
    }

    /// <summary>
    /// Unpooling: y (N, C, P, Q) placed into a zero (N, C, H, W) at the recorded switch positions
    /// (values of windows that share a winner add up, as in pooling's backward pass).
    /// </summary>
    public static Tensor Unpool(Tensor y, int[] switches, int height, int width)
    {
        if (y.Rank != 4) throw new ArgumentException($"unpool: needs (N, C, P, Q), got {y.ShapeString()}");
        if (switches.Length != y.NumElements)
            throw new ArgumentException($"unpool: {switches.Length} switches for {y.ShapeString()} ({y.NumElements} elements)");
        int planes = y.Size(0) * y.Size(1), pq = y.Size(2) * y.Size(3), hw = height * width;
        var v = Host.Floats(y);
        var x = new float[planes * hw];
        for (int plane = 0; plane < planes; plane++)
            for (int i = 0; i < pq; i++)
            {
                int s = switches[plane * pq + i];
                if ((uint)s >= (uint)hw) throw new ArgumentException($"unpool: switch {s} is outside a {height}x{width} plane");
                x[plane * hw + s] += v[plane * pq + i];
            }
        return Tensor.FromArray(x, [y.Size(0), y.Size(1), height, width]);
    }

    /// <summary>Rectification on the way down: max(r, 0).</summary>
    public static Tensor Rectify(Tensor r)
    {
        using var _ = GradMode.NoGrad();
        return Op.Relu(r);
    }

    /// <summary>
    /// Transposed convolution of r (N, K, P, Q) with the layer's filters (K, C/groups, R, S): the
    /// convolution's backward-data pass, giving (N, C, H, W) for an input of height H and width W.
    /// </summary>
    public static Tensor TransposedConv(Tensor r, Tensor weight, Conv2dParams p, int height, int width)
    {
        int n = r.Size(0), c = weight.Size(1) * p.Groups;
        var expected = p.OutputShape([n, c, height, width], weight.Shape);
        if (!r.Shape.SequenceEqual(expected))
            throw new ArgumentException($"transposed conv: weight {weight.ShapeString()} with {p} maps ({n}, {c}, {height}, {width}) to {Tensor.ShapeString(expected)}, got {r.ShapeString()}");
        var dx = Tensor.Empty([n, c, height, width], r.DType, r.Device);
        using var cr = r.IsContiguous ? r.Alias() : r.Contiguous();
        Backend.Of(cr, weight).Conv2dBackwardData(weight, cr, dx, p);
        return dx;
    }

    /// <summary>
    /// The input pixels that layer <paramref name="layer"/>'s output position (y, x) depends on, for an
    /// input of <paramref name="height"/> x <paramref name="width"/>, clipped to the image (or, with
    /// <paramref name="clip"/> false, the whole field, which may reach into the padding).
    /// </summary>
    public static PixelBox ReceptiveField(FeatureStack stack, int layer, int y, int x, int height, int width, bool clip = true)
    {
        long y0 = y, y1 = y, x0 = x, x1 = x; // inclusive
        for (int i = layer; i >= 0; i--)
        {
            var (kh, kw, sh, sw, ph, pw, dh, dw) = stack.Layers[i].Window;
            y0 = y0 * sh - ph; y1 = y1 * sh - ph + (long)(kh - 1) * dh;
            x0 = x0 * sw - pw; x1 = x1 * sw - pw + (long)(kw - 1) * dw;
        }
        if (!clip) return new PixelBox((int)x0, (int)y0, (int)x1 + 1, (int)y1 + 1);
        return new PixelBox((int)Math.Clamp(x0, 0, width - 1), (int)Math.Clamp(y0, 0, height - 1),
            (int)Math.Clamp(x1 + 1, 1, width), (int)Math.Clamp(y1 + 1, 1, height));
    }

    /// <summary>
    /// Projects the activation of map <paramref name="map"/> at (y, x) of layer <paramref name="layer"/>'s
    /// output for <paramref name="image"/> (1, C, H, W) back to pixel space: returns (1, C, H, W).
    /// </summary>
    public static Tensor Project(FeatureStack stack, int layer, Tensor image, int map, int y, int x)
    {
        if (image.Rank != 4 || image.Size(0) != 1)
            throw new ArgumentException($"deconvnet: projects one image (1, C, H, W) at a time, got {image.ShapeString()}");
        if (layer < 0 || layer >= stack.Layers.Count)
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer index {layer} is outside the stack of {stack.Layers.Count} layers");
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        // Forward, keeping each layer's input shape and each pooling's switches.
        var shapes = new int[layer + 1][];
        var switches = new int[]?[layer + 1];
        var t = image;
        for (int i = 0; i <= layer; i++)
        {
            shapes[i] = t.Shape.ToArray();
            if (stack.Layers[i].Kind == FeatureLayerKind.MaxPool) switches[i] = Switches(t, stack.Layers[i].Pool!.Value);
            t = stack.Layers[i].Forward(t);
        }
        if (t.Rank != 4 || (uint)map >= (uint)t.Size(1) || (uint)y >= (uint)t.Size(2) || (uint)x >= (uint)t.Size(3))
            throw new ArgumentException($"deconvnet: map {map} at ({y}, {x}) is outside layer '{stack.Layers[layer].Name}' output {t.ShapeString()}");
        var top = t.ToArray<float>();
        int p = t.Size(2), q = t.Size(3);
        var start = new float[top.Length];
        int at = (map * p + y) * q + x;
        start[at] = top[at];
        var r = Tensor.FromArray(start, t.Shape);
        for (int i = layer; i >= 0; i--)
        {
            var l = stack.Layers[i];
            var s = shapes[i];
            r = l.Kind switch
            {
                FeatureLayerKind.Relu => Rectify(r),
                FeatureLayerKind.MaxPool => Unpool(r, switches[i]!, s[2], s[3]),
                FeatureLayerKind.Conv => TransposedConv(r, l.Weight!, l.Conv!, s[2], s[3]),
                _ => r,
            };
        }
        return scope.Keep(r.Detach());
    }

    /// <summary>
    /// For each map in <paramref name="maps"/>, the <paramref name="top"/> strongest activations over the
    /// given output <paramref name="activations"/> (N, K, P, Q) of one batch, at most one per image (its
    /// strongest position), merged into <paramref name="best"/> (map → list sorted strongest first).
    /// <paramref name="imageOffset"/> numbers the batch's first image.
    /// </summary>
    public static void CollectTop(Tensor activations, IReadOnlyList<int> maps, int top, int imageOffset, Dictionary<int, List<Activation>> best)
    {
        if (activations.Rank != 4) throw new ArgumentException($"deconvnet: feature maps must be (N, K, P, Q), got {activations.ShapeString()}");
        int n = activations.Size(0), k = activations.Size(1), p = activations.Size(2), q = activations.Size(3);
        var v = Host.Floats(activations);
        foreach (int m in maps)
        {
            if ((uint)m >= (uint)k) throw new ArgumentException($"map {m} is outside the layer's {k} maps");
            if (!best.TryGetValue(m, out var list)) best[m] = list = [];
            for (int img = 0; img < n; img++)
            {
                int baseIndex = (img * k + m) * p * q, arg = 0;
                float max = float.NegativeInfinity;
                for (int i = 0; i < p * q; i++)
                    if (v[baseIndex + i] > max) { max = v[baseIndex + i]; arg = i; }
                list.Add(new Activation(imageOffset + img, m, arg / q, arg % q, max));
            }
            list.Sort((a, b) => b.Value.CompareTo(a.Value));
            if (list.Count > top) list.RemoveRange(top, list.Count - top);
        }
    }

    /// <summary>Per map of (N, K, P, Q), the largest activation: folded into <paramref name="maxima"/> (length K).</summary>
    public static void FoldMaxima(Tensor activations, float[] maxima)
    {
        int n = activations.Size(0), k = activations.Size(1), pq = activations.Size(2) * activations.Size(3);
        if (maxima.Length != k) throw new ArgumentException($"maxima has {maxima.Length} entries for {k} maps");
        var v = Host.Floats(activations);
        for (int img = 0; img < n; img++)
            for (int m = 0; m < k; m++)
            {
                var plane = v.AsSpan((img * k + m) * pq, pq);
                foreach (float a in plane) if (a > maxima[m]) maxima[m] = a;
            }
    }
}
