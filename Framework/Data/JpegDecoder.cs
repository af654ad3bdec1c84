namespace Kiln.Data;

/// <summary>Which library decodes JPEGs (<see cref="DecodeLimits.Jpeg"/>). PNG and other formats always use SkiaSharp.</summary>
public enum JpegDecoder
{
    /// <summary>TurboJPEG (the system's SIMD libjpeg-turbo) when <c>libturbojpeg.so.0</c> loads, otherwise SkiaSharp.</summary>
    Auto,
    /// <summary>TurboJPEG; constructing a decoder fails when the library is unavailable.</summary>
    TurboJpeg,
    /// <summary>SkiaSharp's bundled libjpeg-turbo (no SIMD, but decodes only the crop region).</summary>
    SkiaSharp,
}
