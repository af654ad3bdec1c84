using Kiln.Data;

namespace Kiln.Training;

/// <summary>
/// The network input of a host batch, on a device, whatever the batch's <see cref="BatchFormat"/>: float32 pixels are
/// copied as they are; uint8 pixels (see Note [Uint8 batches]) are copied as uint8, a quarter of the bytes, and
/// normalised where they land by <see cref="Op.NormalizeImages"/> (CUDA's kernel on a GPU, its CPU twin on the CPU).
/// The trainer and the evaluator take every batch through here.
/// </summary>
public static class BatchInput
{
    /// <summary>The batch's input, (Count·Views, C, H, W) float32 on <paramref name="device"/>.</summary>
    public static Tensor ToDevice(HostBatch batch, Device device)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.IsDense) throw new InvalidOperationException("BatchInput: a dense batch holds images of different sizes; take each with DenseView");
        int[] shape = batch.Shape;   // (N·V, C, H, W)
        return batch.Format == BatchFormat.Float32Nchw
            ? Tensor.FromSpan<float>(batch.Pixels, shape, device)
            : Normalize(batch, batch.PixelBytes, shape, device);
    }

    /// <summary>
    /// The input of a batch whose pixels are already on the device (uploaded ahead by a prefetcher): <paramref name="pixels"/>
    /// is (N·V, C, H, W) float32 for a float32 batch, returned as it is, or (N·V, H, W, C) uint8, normalised into a new
    /// (N·V, C, H, W) float32 tensor as <see cref="ToDevice"/> does.
    /// </summary>
    public static Tensor FromUploaded(HostBatch batch, Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(pixels);
        int[] shape = batch.Shape;   // (N·V, C, H, W)
        int[] expected = batch.Format == BatchFormat.Float32Nchw ? shape : [shape[0], shape[2], shape[3], shape[1]];
        var dtype = batch.Format == BatchFormat.Float32Nchw ? DType.Float32 : DType.UInt8;
        if (!pixels.Shape.SequenceEqual(expected) || pixels.DType != dtype)
            throw new ArgumentException($"BatchInput: a {batch.Format} batch of {batch.Count} needs uploaded pixels {Tensor.ShapeString(expected)} {dtype.Name()}, got {pixels}");
        return batch.Format == BatchFormat.Float32Nchw ? pixels : NormalizeOnDevice(batch, pixels);
    }

    /// <summary>
    /// One image of a dense batch at one scale, with its mirror image: <paramref name="offset"/> and
    /// <paramref name="shape"/> (2, C, h, w) from <see cref="HostBatch.DenseViews"/>; (2, C, h, w) float32 on <paramref name="device"/>.
    /// </summary>
    public static Tensor DenseView(HostBatch batch, int offset, int[] shape, Device device)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (shape.Length != 4) throw new ArgumentException($"BatchInput: a dense view's shape is (2, C, h, w), got ({string.Join(", ", shape)})");
        int count = shape[0] * shape[1] * shape[2] * shape[3];
        return batch.Format == BatchFormat.Float32Nchw
            ? Tensor.FromSpan<float>(batch.Data.AsSpan(offset, count), shape, device)
            : Normalize(batch, batch.Bytes.AsSpan(offset, count), shape, device);
    }

    /// <summary>uint8 pixels (N, H, W, C) for an input of <paramref name="shape"/> (N, C, H, W): upload, then normalise on the device.</summary>
    private static Tensor Normalize(HostBatch batch, ReadOnlySpan<byte> pixels, int[] shape, Device device)
    {
        using var x = Tensor.FromSpan(pixels, [shape[0], shape[2], shape[3], shape[1]], device);   // x: (N, H, W, C) uint8
        return NormalizeOnDevice(batch, x);
    }

    /// <summary>x: (N, H, W, C) uint8 on the device → (N, C, H, W) float32 with the batch's normalisation.</summary>
    private static Tensor NormalizeOnDevice(HostBatch batch, Tensor x)
    {
        var norm = batch.Transform?.Normalization
            ?? throw new InvalidOperationException("BatchInput: a uint8 batch needs its transform, which names the normalisation to apply");
        int c = x.Size(3);
        return Op.NormalizeImages(x, norm.Mean.AsSpan(0, c), norm.Std.AsSpan(0, c), norm.PixelRange / 255f);   // (N, C, H, W) float32
    }
}
