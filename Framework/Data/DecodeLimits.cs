namespace Kiln.Data;

/// <summary>Limits checked against an image's header before any pixel is decoded, and how JPEGs are decoded.</summary>
public sealed record DecodeLimits
{
    /// <summary>Largest width × height accepted (64 M pixels ≈ 256 MB decoded); larger is a decompression bomb.</summary>
    public long MaxPixels { get; init; } = 64L << 20;
    /// <summary>Largest side accepted.</summary>
    public int MaxSide { get; init; } = 32768;
    /// <summary>Use the JPEG decoder's DCT scaling (M/8) and decode only the rows and columns the crop needs.</summary>
    public bool DecodeToCrop { get; init; } = true;
    /// <summary>Which library decodes JPEGs; <see cref="JpegDecoder.Auto"/> prefers TurboJPEG when it loads.</summary>
    public JpegDecoder Jpeg { get; init; } = JpegDecoder.Auto;
}
