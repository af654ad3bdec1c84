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
        if (!IsJpeg(bytes)) return false;
        int i = 2;
        while (i + 4 <= bytes.Length)
        {
            if (bytes[i] != 0xFF) return false;
            byte marker = bytes[i + 1];
            if (marker == 0xFF) { i++; continue; }                     // fill byte
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; } // markers without length
            int length = (bytes[i + 2] << 8) | bytes[i + 3];
            bool sof = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (sof)
            {
                if (i + 10 > bytes.Length) return false;
                height = (bytes[i + 5] << 8) | bytes[i + 6];
                width = (bytes[i + 7] << 8) | bytes[i + 8];
                components = bytes[i + 9];
                return true;
            }
            if (marker == 0xDA || length < 2) return false;             // scan data before any frame header
            i += 2 + length;
        }
        return false;
    }

    /// <summary>True when the data ends with the EOI marker (FF D9), ignoring trailing zero padding: the file was not cut short.</summary>
    public static bool EndsWithEoi(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.Length;
        while (end > 0 && bytes[end - 1] == 0) end--;
        return end >= 4 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xD9;
    }
}
