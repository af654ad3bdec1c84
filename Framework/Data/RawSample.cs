using System.Buffers;

namespace Kiln.Data;

/// <summary>
/// One sample as read from a shard: its image bytes (rented from <see cref="ArrayPool{T}.Shared"/>;
/// call <see cref="Release"/>), its label, or the structural fault that makes it bad.
/// </summary>
public sealed class RawSample
{
    public required string Shard { get; init; }
    public required string Key { get; init; }
    /// <summary>Image bytes, valid up to <see cref="ImageLength"/>; null when there is no image or the sample is bad.</summary>
    public byte[]? Image { get; private set; }
    public int ImageLength { get; init; }
    /// <summary>The image member's extension as written (format is detected from the bytes, not from this).</summary>
    public string? ImageExtension { get; init; }
    /// <summary>The class index, or -1.</summary>
    public int Label { get; init; } = -1;
    /// <summary>Set when the sample is bad before any decoding.</summary>
    public BadSampleReason? Fault { get; init; }
    public string FaultDetail { get; init; } = "";
    /// <summary>Byte offset of the sample's first member in the shard.</summary>
    public long Offset { get; init; }

    internal RawSample WithImage(byte[]? image)
    {
        Image = image;
        return this;
    }

    public ReadOnlySpan<byte> ImageSpan => Image is null ? default : Image.AsSpan(0, ImageLength);

    /// <summary>Returns the image buffer to the pool. Idempotent.</summary>
    public void Release()
    {
        var image = Image;
        Image = null;
        if (image is not null) ArrayPool<byte>.Shared.Return(image);
    }
}
