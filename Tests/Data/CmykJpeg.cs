namespace Kiln.Tests.Data;

/// <summary>
/// A minimal baseline JPEG encoder for flat-colour CMYK images (Adobe APP14, inverted CMYK as Photoshop
/// writes it; DC-only blocks), since SkiaSharp cannot write CMYK. ImageNet holds about two dozen such files.
/// </summary>
internal static class CmykJpeg
{
    public static byte[] Solid(int width, int height, byte c, byte m, byte y, byte k)
    {
        var o = new List<byte> { 0xFF, 0xD8 };
        // APP14 "Adobe": version 100, flags 0, 0, transform 0 (no colour transform: CMYK as stored).
        o.AddRange([0xFF, 0xEE, 0x00, 0x0E, (byte)'A', (byte)'d', (byte)'o', (byte)'b', (byte)'e', 0x00, 0x64, 0, 0, 0, 0, 0]);
        // DQT: table 0, all ones.
        o.AddRange([0xFF, 0xDB, 0x00, 0x43, 0x00]);
        for (int i = 0; i < 64; i++) o.Add(1);
        // SOF0: 8-bit, 4 components, 1x1 sampling, table 0.
        o.AddRange([0xFF, 0xC0, 0x00, 8 + 3 * 4, 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 4]);
        for (byte id = 1; id <= 4; id++) o.AddRange([id, 0x11, 0]);
        // DHT: DC table 0 (the standard luminance DC table), AC table 0 with only EOB (code "0").
        byte[] dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        o.AddRange([0xFF, 0xC4, 0x00, (byte)(3 + 16 + 12), 0x00]);
        o.AddRange(dcBits);
        for (byte v = 0; v < 12; v++) o.Add(v);
        o.AddRange([0xFF, 0xC4, 0x00, 3 + 16 + 1, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
        // SOS: 4 components interleaved, each DC 0 / AC 0.
        o.AddRange([0xFF, 0xDA, 0x00, 6 + 2 * 4, 4]);
        for (byte id = 1; id <= 4; id++) o.AddRange([id, 0x00]);
        o.AddRange([0, 63, 0]);

        // Standard DC codes by category: (code, length).
        (int Code, int Length)[] dc = [(0b00, 2), (0b010, 3), (0b011, 3), (0b100, 3), (0b101, 3), (0b110, 3), (0b1110, 4),
            (0b11110, 5), (0b111110, 6), (0b1111110, 7), (0b11111110, 8), (0b111111110, 9)];
        var bits = new BitWriter(o);
        byte[] values = [c, m, y, k];
        int blocks = ((width + 7) / 8) * ((height + 7) / 8);
        for (int b = 0; b < blocks; b++)
            for (int comp = 0; comp < 4; comp++)
            {
                int diff = b == 0 ? 8 * (values[comp] - 128) : 0; // DC of a flat block is 8·(v − 128) at q = 1
                int cat = diff == 0 ? 0 : 32 - int.LeadingZeroCount(Math.Abs(diff));
                bits.Write(dc[cat].Code, dc[cat].Length);
                if (cat > 0) bits.Write(diff > 0 ? diff : diff + (1 << cat) - 1, cat);
                bits.Write(0, 1); // EOB
            }
        bits.Flush();
        o.AddRange([0xFF, 0xD9]);
        return o.ToArray();
    }

    private sealed class BitWriter(List<byte> output)
    {
        private int _buffer, _count;

        public void Write(int value, int length)
        {
            for (int i = length - 1; i >= 0; i--)
            {
                _buffer = (_buffer << 1) | ((value >> i) & 1);
                if (++_count == 8) Emit();
            }
        }

        public void Flush()
        {
            while (_count != 0) { _buffer = (_buffer << 1) | 1; if (++_count == 8) Emit(); }
        }

        private void Emit()
        {
            output.Add((byte)_buffer);
            if (_buffer == 0xFF) output.Add(0x00); // byte stuffing
            _buffer = _count = 0;
        }
    }
}
