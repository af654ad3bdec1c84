namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// The reference of CUDA's normalize_forward_u8_f32 (Kernels/normalize.cu): x (N, H, W, C) uint8 →
    /// y (N, C, H, W) float32. A uint8 has 256 values, so each channel's results are tabulated once with the
    /// kernel's formula, <c>(v · scale − mean[c]) · invStd[c]</c>, and the pass is a table lookup and transpose.
    /// </summary>
    public void NormalizeImages(Tensor x, Tensor y, Tensor mean, Tensor invStd, Tensor? flip, float scale)
    {
        var (n, h, w, c) = Kiln.Core.Ops.Op.CheckNormalizeImagesArguments(x, y, mean, invStd, flip);
        var table = new float[256 * c];   // table: (C, 256)
        var m = Data<float>(mean);
        var s = Data<float>(invStd);
        for (int ch = 0; ch < c; ch++)
            for (int v = 0; v < 256; v++) table[ch * 256 + v] = (v * scale - m[ch]) * s[ch];
        long rows = (long)n * h;
        CpuParallel.ForRanges(rows, CpuParallel.ChunkCount(rows * w * c, 1 << 14), (_, first, count) =>
        {
            var xs = Data<byte>(x);
            var ys = Data<float>(y);
            var flips = flip is null ? default : Data<byte>(flip);
            for (long row = first; row < first + count; row++)
            {
                int i = (int)(row / h), r = (int)(row % h);
                bool mirror = flips.Length > 0 && flips[i] != 0;
                var src = xs.Slice((int)(row * w * c), w * c);   // src: (W, C) of image i, row r
                for (int ch = 0; ch < c; ch++)
                {
                    var lut = table.AsSpan(ch * 256, 256);
                    var dst = ys.Slice(((i * c + ch) * h + r) * w, w);   // dst: (W) of plane (i, ch), row r
                    if (mirror)
                        for (int col = 0; col < w; col++) dst[col] = lut[src[(w - 1 - col) * c + ch]];
                    else
                        for (int col = 0; col < w; col++) dst[col] = lut[src[col * c + ch]];
                }
            }
        });
    }
}
