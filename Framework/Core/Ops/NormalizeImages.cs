namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Decoded images to network input: x (N, H, W, C) uint8 → y (N, C, H, W) float32 with
    /// <c>y[n, c, h, w] = (x[n, h, w', c] · scale − mean[c]) · invStd[c]</c>, where w' = W − 1 − w when
    /// flip[n] != 0, else w. mean, invStd: (C) float32; flip: (N) uint8 or null; all contiguous, on this device.
    /// </summary>
    void NormalizeImages(Tensor x, Tensor y, Tensor mean, Tensor invStd, Tensor? flip, float scale);
}

public static partial class Op
{
    /// <summary>The backends' shared check of <see cref="IBackend.NormalizeImages"/>'s arguments; returns (N, H, W, C).</summary>
    internal static (int N, int H, int W, int C) CheckNormalizeImagesArguments(Tensor x, Tensor y, Tensor mean, Tensor invStd, Tensor? flip)
    {
        if (x.DType != DType.UInt8 || x.Rank != 4) throw new ArgumentException($"normalize: x must be (N, H, W, C) uint8, got {x}");
        int n = x.Size(0), h = x.Size(1), w = x.Size(2), c = x.Size(3);
        if (y.DType != DType.Float32 || !y.Shape.SequenceEqual([n, c, h, w]))
            throw new ArgumentException($"normalize: y must be ({n}, {c}, {h}, {w}) float32 for x {x.ShapeString()}, got {y}");
        if (mean.DType != DType.Float32 || mean.NumElements != c || invStd.DType != DType.Float32 || invStd.NumElements != c)
            throw new ArgumentException($"normalize: mean and invStd must be {c} float32 values, got {mean} and {invStd}");
        if (flip is not null && (flip.DType != DType.UInt8 || flip.NumElements != n))
            throw new ArgumentException($"normalize: flip must be {n} uint8 values, got {flip}");
        return (n, h, w, c);
    }

    /// <summary>
    /// Normalises a batch of uint8 images, x (N, H, W, C), into float32 (N, C, H, W) on x's device:
    /// <c>(x · <paramref name="scale"/> − mean[c]) / std[c]</c>, mirroring image n when <paramref name="flip"/>[n] != 0
    /// (flip: (N) uint8 on x's device, or null). The uint8 batches of the data loader come here (see
    /// Note [Uint8 batches] in Kiln.Data.DataLoader); the CPU kernel is the reference for CUDA's. No gradient:
    /// the input is integer data.
    /// </summary>
    public static Tensor NormalizeImages(Tensor x, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, float scale, Tensor? flip = null)
    {
        if (x.DType != DType.UInt8 || x.Rank != 4)
            throw new ArgumentException($"normalize_images: x must be (N, H, W, C) uint8, got {x.DType.Name()} {x.ShapeString()}");
        int n = x.Size(0), h = x.Size(1), w = x.Size(2), c = x.Size(3);
        if (mean.Length != c || std.Length != c)
            throw new ArgumentException($"normalize_images: x {x.ShapeString()} has {c} channels, got {mean.Length} mean and {std.Length} std values");
        if (!float.IsFinite(scale)) throw new ArgumentException($"normalize_images: scale must be finite, got {scale}");
        if (flip is not null && (flip.DType != DType.UInt8 || flip.Rank != 1 || flip.Size(0) != n || flip.Device != x.Device))
            throw new ArgumentException($"normalize_images: flip must be ({n}) uint8 on {x.Device}, got {flip.DType.Name()} {flip.ShapeString()} on {flip.Device}");
        if (c is < 1 or > 16) throw new ArgumentException($"normalize_images: 1 to 16 channels, got {c}");
        Span<float> invStd = stackalloc float[16];
        invStd = invStd[..c];
        for (int i = 0; i < c; i++)
        {
            if (!(std[i] > 0)) throw new ArgumentException($"normalize_images: std must be > 0, got {std[i]} for channel {i}");
            invStd[i] = 1f / std[i];
        }
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.Empty([n, c, h, w], DType.Float32, x.Device);   // y: (N, C, H, W)
        using var m = Tensor.FromSpan(mean, [c], x.Device);            // m: (C)
        using var s = Tensor.FromSpan<float>(invStd, [c], x.Device);   // s: (C)
        backend.NormalizeImages(cx, y, m, s, flip, scale);
        DisposeIfCopy(cx, x);
        return y;
    }
}
