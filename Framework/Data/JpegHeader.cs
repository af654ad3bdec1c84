namespace Kiln.Data;

/// <summary>Reads a JPEG's frame header without decoding: size and component count (1 grey, 3 YCbCr, 4 CMYK/YCCK).</summary>
public static class JpegHeader
{
    /// <summary>True when the bytes start with the JPEG SOI marker.</summary>
    public static bool IsJpeg(ReadOnlySpan<byte> bytes) => bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;

    /// <summary>Finds the first SOFn segment; false when there is none (not a JPEG, or cut before it).</summary>
    public static bool TryReadFrame(ReadOnlySpan<byte> bytes, out int width, out int height, out int components)
    {
        width = height = components = 0;
        int i = FindFrame(bytes);
        if (i < 0) return false;
        height = (bytes[i + 5] << 8) | bytes[i + 6];
        width = (bytes[i + 7] << 8) | bytes[i + 8];
        components = bytes[i + 9];
        return true;
    }

    /// <summary>
    /// Why neither of our JPEG decoders can decode this file, or null when they can (or when there is no frame
    /// header to judge: the decoders then say what is wrong). Both are libjpeg-turbo 2.1 built for 8-bit samples
    /// (see Note [Two JPEG decoders]), which decodes baseline, extended sequential and progressive JPEGs, Huffman or
    /// arithmetic coded (SOF0–2, SOF9–10), with 8-bit samples only. Refused here, before any decoder runs, so that both
    /// paths give the same verdict and a clear reason: 12-bit samples (SkiaSharp reads them as a truncated image,
    /// TurboJPEG refuses the header), lossless (SOF3, SOF11) and hierarchical (SOF5–7, SOF13–15) JPEGs.
    /// </summary>
    public static string? Unsupported(ReadOnlySpan<byte> bytes)
    {
        int i = FindFrame(bytes);
        if (i < 0) return null;
        int sof = bytes[i + 1] - 0xC0, precision = bytes[i + 4];
        if (sof is 3 or 11) return $"lossless JPEG (SOF{sof}) is not supported";
        if (sof is 5 or 6 or 7 or 13 or 14 or 15) return $"hierarchical JPEG (SOF{sof}) is not supported";
        if (precision != 8) return $"{precision}-bit JPEG (SOF{sof}) is not supported: the decoders read 8-bit samples only";
        return null;
    }

    /// <summary>The offset of the first SOFn marker with its whole segment header present, or -1.</summary>
    private static int FindFrame(ReadOnlySpan<byte> bytes)
    {
        if (!IsJpeg(bytes)) return -1;
        int i = 2;
        while (i + 4 <= bytes.Length)
        {
            if (bytes[i] != 0xFF) return -1;
            byte marker = bytes[i + 1];
            if (marker == 0xFF) { i++; continue; }                     // fill byte
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; } // markers without length
            int length = (bytes[i + 2] << 8) | bytes[i + 3];
            bool sof = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (sof) return i + 10 <= bytes.Length ? i : -1;
            if (marker == 0xDA || length < 2) return -1;                // scan data before any frame header
            i += 2 + length;
        }
        return -1;
    }

    /// <summary>True when the data ends with the EOI marker (FF D9), ignoring trailing zero padding: the file was not cut short.</summary>
    public static bool EndsWithEoi(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.Length;
        while (end > 0 && bytes[end - 1] == 0) end--;
        return end >= 4 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xD9;
    }
}
