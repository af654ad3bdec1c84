namespace Kiln.Data;

/// <summary>Channel order of the output tensor.</summary>
public enum ChannelOrder
{
    Rgb,
    /// <summary>Caffe's order.</summary>
    Bgr,
}

/// <summary>
/// How decoded 8-bit pixels become the network's input: <c>out[c] = (p[c] · PixelRange / 255 − Mean[c]) / Std[c]</c>,
/// with <see cref="Mean"/> and <see cref="Std"/> listed in output channel order and in the units of
/// <see cref="PixelRange"/> (1 for torchvision's [0, 1] inputs, 255 for Caffe's). Explicit on purpose:
/// imported weights carry the normalisation they were trained with.
/// </summary>
public sealed record Normalization(float[] Mean, float[] Std, ChannelOrder Order, float PixelRange)
{
    /// <summary>torchvision's ImageNet statistics, RGB in [0, 1].</summary>
    public static Normalization ImageNetRgb { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], ChannelOrder.Rgb, 1f);

    /// <summary>Caffe's BGR mean values 104, 117, 123 on [0, 255] pixels, no scaling.</summary>
    public static Normalization CaffeBgr { get; } = new([104f, 117f, 123f], [1f, 1f, 1f], ChannelOrder.Bgr, 255f);

    /// <summary>MNIST statistics for one grey channel in [0, 1].</summary>
    public static Normalization Mnist { get; } = new([0.1307f], [0.3081f], ChannelOrder.Rgb, 1f);

    /// <summary>Pixels scaled to [0, 1], nothing subtracted.</summary>
    public static Normalization UnitRange { get; } = new([0f, 0f, 0f], [1f, 1f, 1f], ChannelOrder.Rgb, 1f);

    /// <summary>Checks the lengths against the channel count.</summary>
    public void Validate(int channels)
    {
        if (Mean.Length < channels || Std.Length < channels)
            throw new ArgumentException($"normalisation needs {channels} mean and std values, got {Mean.Length} and {Std.Length}");
        foreach (var s in Std)
            if (!(s > 0)) throw new ArgumentException($"normalisation std must be > 0, got {s}");
        if (!(PixelRange > 0)) throw new ArgumentException($"normalisation pixel range must be > 0, got {PixelRange}");
    }
}
