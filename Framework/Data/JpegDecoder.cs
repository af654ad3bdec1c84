namespace Kiln.Data;

/// <summary>Which library decodes JPEGs (<see cref="DecodeLimits.Jpeg"/>). PNG and other formats always use SkiaSharp.</summary>
public enum JpegDecoder
{
    /// <summary>
    /// The faster of the two per image: TurboJPEG (the system's SIMD libjpeg-turbo, whole image at the DCT scale) when
    /// <c>libturbojpeg.so.0</c> loads and the views cover most of the image, otherwise SkiaSharp's region decoder.
    /// </summary>
    Auto,
    /// <summary>TurboJPEG for every JPEG it can decode; constructing a decoder fails when the library is unavailable.</summary>
    TurboJpeg,
    /// <summary>SkiaSharp's bundled libjpeg-turbo (no SIMD, but decodes only the crop region).</summary>
    SkiaSharp,
}
