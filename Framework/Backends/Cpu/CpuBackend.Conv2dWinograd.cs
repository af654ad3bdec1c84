using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Note [Row Winograd]: 3-row, stride-1, undilated float32 convolutions (3x3 and 3x5 ...) on the flat layout of
/// Note [Flat direct convolution], with Winograd's F(2, 3) along the height only. For a pair of output rows
/// (2t, 2t+1), input rows d0..d3 = padded rows 2t..2t+3 and each filter column g = w[., ., 0..2, s]:
///   V0 = d0 - d2, V1 = d1 + d2, V2 = d2 - d1, V3 = d1 - d3          (whole rows: contiguous vectors)
///   U0 = g0, U1 = (g0 + g1 + g2)/2, U2 = (g0 - g1 + g2)/2, U3 = g2
///   M_j = Σ_c Σ_s U_j[s] · V_j[o + s]   (o on the flat grid of tile rows, pitch Wp: the direct kernel's trick)
///   y(2t) = M0 + M1 + M2,   y(2t+1) = M1 - M2 - M3
/// Four products make two output rows where the direct kernel needs six FMAs (3 rows x 2): 1.5x fewer. Unlike 2-D
/// Winograd, every transform is a whole-row vector add (no tile gathering), and the transforms are exact up to
/// one rounding of V and of U (the halves are exact). Backward data is the same convolution of dy with the flipped,
/// transposed filter. Register block: 4 output channels x 16 positions x 4 components. Per item (image, band of
/// tile rows) V is built for all channels into the item's buffer, in L2 while every k block reads it.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>Output channels per register block; positions per block.</summary>
    private const int WinoKb = 4, WinoOb = 16;

    private static bool RowWinogradApplies(in ConvGeometry g) =>
        DirectConvApplies(g) && g.R == 3 && g.DilationH == 1 && g.DilationW == 1;

    /// <summary>
    /// Packs the filter as (ceil(K'/4), C', S, 4 components, 4) with U_j above, K' the output and C' the input
    /// channels of the convolution run: (K, C) forward, (C, K) with flip (backward data: w'[c, k, r, s] = w[k, c, 2-r, S-1-s]).
    /// </summary>
    private static void PackRowWinograd(float* w, int k, int c, int s, bool flip, float* packed)
    {
        int outCh = flip ? c : k, inCh = flip ? k : c;
        int blocks = (outCh + WinoKb - 1) / WinoKb;
        nint pw = (nint)w, pp = (nint)packed;
        CpuParallel.For(blocks, kb =>
        {
            for (int ci = 0; ci < inCh; ci++)
                for (int sj = 0; sj < s; sj++)
                {
                    float* dst = (float*)pp + (((long)kb * inCh + ci) * s + sj) * 4 * WinoKb;
                    for (int kk = 0; kk < WinoKb; kk++)
                    {
                        int ko = kb * WinoKb + kk;
                        float g0 = 0, g1 = 0, g2 = 0;
                        if (ko < outCh)
                        {
                            // w (K, C, 3, S); flipped: rows 2-r and column S-1-sj of w[ci (as k), ko (as c)]
                            float* f = flip ? (float*)pw + ((long)ci * c + ko) * 3 * s : (float*)pw + ((long)ko * c + ci) * 3 * s;
                            int col = flip ? s - 1 - sj : sj;
                            (g0, g1, g2) = flip ? (f[2 * s + col], f[s + col], f[col]) : (f[col], f[s + col], f[2 * s + col]);
                        }
                        dst[0 * WinoKb + kk] = g0;
                        dst[1 * WinoKb + kk] = (g0 + g1 + g2) * 0.5f;
                        dst[2 * WinoKb + kk] = (g0 - g1 + g2) * 0.5f;
                        dst[3 * WinoKb + kk] = g2;
                    }
                }
        });
    }

    /// <summary>
    /// y (N, K, P, Q) = the convolution of x (N, C, H, W) with the Row-Winograd-packed filter, f the flat plan of x.
    /// The images' tile grids are laid end to end (image n's grid starts at n * tileRows * Wp; its first positions
    /// are left padding, so a block running from one image into the next reads only zeros for its valid outputs) and
    /// work items are bands of 16-position blocks over all of them: small maps (8x8: 36 positions per image) no
    /// longer round every image up to whole blocks (48).
    /// </summary>
    private static void RowWinogradConvolve(float* x, float* packed, float* bias, float* y, int n, int c, int k, FlatPlan f)
    {
        int s = f.Taps / 3;
        int tileRows = (f.P + 1) / 2;
        long perImage = (long)tileRows * f.Wp;               // positions on one image's grid of tile rows
        long total = n * perImage;
        int blocksT = (int)((total + WinoOb - 1) / WinoOb);
        int kBlocks = (k + WinoKb - 1) / WinoKb;
        int bandBlocks = (int)Math.Clamp((DirectBandBytes > 0 ? DirectBandBytes : 256 << 10) / ((long)c * 4 * WinoOb * sizeof(float)), 1, Math.Max(1, blocksT));
        int items = (blocksT + bandBlocks - 1) / bandBlocks;
        if (items == 0 || k == 0) return;
        int ranges = Math.Min(items, CpuParallel.Threads);
        int ldo = bandBlocks * WinoOb;
        long vLength = ((long)ldo + s - 1 + 15) & ~15L;     // V positions one band reads, per component and channel
        int maxRows = (int)(2 * (vLength / f.Wp + 2) + 4);    // padded input rows a band's tile rows span in one image
        long outLength = (long)WinoKb * 2 * ldo;             // (4 k, 2 rows of a tile row, band)
        long scratchLength = outLength + (long)c * 4 * vLength + (long)maxRows * f.Wp + 16;
        nint px = (nint)x, pw = (nint)packed, pb = (nint)bias, py = (nint)y;
        using var scratch = new RangeScratch(ranges, scratchLength);
        CpuParallel.ForRanges(items, ranges, (r, start, len) =>
        {
            float* outT = scratch[r];
            float* v = outT + outLength;                 // (C, 4, vLength)
            float* rows = v + (long)c * 4 * vLength;     // padded input rows of one channel
            for (long band = start; band < start + len; band++)
            {
                int b0 = (int)band * bandBlocks, b1 = Math.Min(blocksT, b0 + bandBlocks);
                long lo = (long)b0 * WinoOb, hi = (long)b1 * WinoOb;
                for (int ci = 0; ci < c; ci++)
                {
                    float* vc = v + (long)ci * 4 * vLength;
                    for (long at = lo; at < lo + vLength;)   // image by image; zero past the last one
                    {
                        long img = at / perImage, end = Math.Min(lo + vLength, (img + 1) * perImage);
                        if (img >= n)
                        {
                            for (int j = 0; j < 4; j++) new Span<float>(vc + j * vLength + (at - lo), (int)(lo + vLength - at)).Clear();
                            break;
                        }
                        RowWinogradInput((float*)px + (img * c + ci) * f.H * f.W, f, at - img * perImage, end - at, vLength, rows, vc + (at - lo));
                        at = end;
                    }
                }
                for (int kb = 0; kb < kBlocks; kb++)
                {
                    float* u = (float*)pw + (long)kb * c * s * 4 * WinoKb;
                    for (int b = b0; b < b1; b++)
                        RowWinogradBlock(v + (b - b0) * WinoOb, vLength, u, c, s, outT + (b - b0) * WinoOb, ldo);
                    int k0 = kb * WinoKb, kn = Math.Min(WinoKb, k - k0);
                    for (int kk = 0; kk < kn; kk++)
                    {
                        float add = pb == 0 ? 0f : ((float*)pb)[k0 + kk];
                        float* y0 = outT + (long)kk * 2 * ldo, y1 = y0 + ldo;
                        for (long at = lo; at < Math.Min(hi, total);)
                        {
                            long img = at / perImage, end = Math.Min(hi, (img + 1) * perImage), imgLo = img * perImage;
                            float* dst = (float*)py + (img * k + k0 + kk) * f.P * f.Q;
                            StoreTileRows(y0 + (at - lo), y1 + (at - lo), at - imgLo, end - imgLo, f, dst, add);
                            at = end;
                        }
                    }
                }
            }
        });
    }

    /// <summary>
    /// V (4 components, vLength apart) of one channel for tile-grid positions [lo, lo + length): position t*Wp + col
    /// takes padded rows 2t..2t+3 at col. rows is scratch for the padded rows the range spans.
    /// </summary>
    private static void RowWinogradInput(float* src, FlatPlan f, long lo, long length, long vLength, float* rows, float* v)
    {
        long hi = lo + length;
        long t0 = lo / f.Wp, t1 = (hi - 1) / f.Wp;           // tile rows touched
        long firstRow = 2 * t0, rowCount = 2 * (t1 - t0) + 4;
        PadRange(src, f, firstRow * f.Wp, rowCount * f.Wp, rows);
        for (long t = t0; t <= t1; t++)
        {
            long a = Math.Max(lo, t * f.Wp), b = Math.Min(hi, (t + 1) * f.Wp);
            int col0 = (int)(a - t * f.Wp), count = (int)(b - a);
            float* d0 = rows + (2 * t - firstRow) * f.Wp + col0;
            float* d1 = d0 + f.Wp, d2 = d1 + f.Wp, d3 = d2 + f.Wp;
            float* o = v + (a - lo);
            int i = 0;
            for (; i + 16 <= count; i += 16)
            {
                var x0 = Vector512.Load(d0 + i); var x1 = Vector512.Load(d1 + i);
                var x2 = Vector512.Load(d2 + i); var x3 = Vector512.Load(d3 + i);
                (x0 - x2).Store(o + i);
                (x1 + x2).Store(o + vLength + i);
                (x2 - x1).Store(o + 2 * vLength + i);
                (x1 - x3).Store(o + 3 * vLength + i);
            }
            for (; i < count; i++)
            {
                o[i] = d0[i] - d2[i];
                o[vLength + i] = d1[i] + d2[i];
                o[2 * vLength + i] = d2[i] - d1[i];
                o[3 * vLength + i] = d1[i] - d3[i];
            }
        }
    }

    /// <summary>
    /// Two output rows per tile row for 4 output channels and 16 positions: M_j = Σ_c Σ_s U_j · V_j[o + s] in 16
    /// accumulators, then y0 = M0 + M1 + M2 into o[kk*2*ldo] and y1 = M1 - M2 - M3 into o[(kk*2+1)*ldo].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowWinogradBlock(float* v, long vLength, float* u, int c, int s, float* o, int ldo)
    {
        Vector512<float> m00 = default, m01 = default, m02 = default, m03 = default;   // m{j}{kk}
        Vector512<float> m10 = default, m11 = default, m12 = default, m13 = default;
        Vector512<float> m20 = default, m21 = default, m22 = default, m23 = default;
        Vector512<float> m30 = default, m31 = default, m32 = default, m33 = default;
        long l2 = 2 * vLength, l3 = 3 * vLength;
        for (int ci = 0; ci < c; ci++, v += 4 * vLength)
            for (int sj = 0; sj < s; sj++, u += 4 * WinoKb)
            {
                var v0 = Vector512.Load(v + sj);
                var v1 = Vector512.Load(v + vLength + sj);
                var v2 = Vector512.Load(v + l2 + sj);
                var v3 = Vector512.Load(v + l3 + sj);
                m00 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[0]), v0, m00);
                m01 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[1]), v0, m01);
                m02 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[2]), v0, m02);
                m03 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[3]), v0, m03);
                m10 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[4]), v1, m10);
                m11 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[5]), v1, m11);
                m12 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[6]), v1, m12);
                m13 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[7]), v1, m13);
                m20 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[8]), v2, m20);
                m21 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[9]), v2, m21);
                m22 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[10]), v2, m22);
                m23 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[11]), v2, m23);
                m30 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[12]), v3, m30);
                m31 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[13]), v3, m31);
                m32 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[14]), v3, m32);
                m33 = Avx512F.FusedMultiplyAdd(Vector512.Create(u[15]), v3, m33);
            }
        (m00 + m10 + m20).Store(o); (m10 - m20 - m30).Store(o + ldo); o += 2 * ldo;
        (m01 + m11 + m21).Store(o); (m11 - m21 - m31).Store(o + ldo); o += 2 * ldo;
        (m02 + m12 + m22).Store(o); (m12 - m22 - m32).Store(o + ldo); o += 2 * ldo;
        (m03 + m13 + m23).Store(o); (m13 - m23 - m33).Store(o + ldo);
    }

    /// <summary>
    /// Tile-grid positions [lo, hi) of the two row outputs (y0 for row 2t, y1 for row 2t+1; src[0] is position lo)
    /// into the plane dst (P, Q), plus add: position t*Wp + q is valid for q &lt; Q and a row below P.
    /// </summary>
    private static void StoreTileRows(float* y0, float* y1, long lo, long hi, FlatPlan f, float* dst, float add)
    {
        hi = Math.Min(hi, (long)((f.P + 1) / 2) * f.Wp);
        for (long t = lo / f.Wp; t * f.Wp < hi; t++)
        {
            int q0 = (int)Math.Max(0, lo - t * f.Wp), q1 = (int)Math.Min(f.Q, hi - t * f.Wp);
            if (q1 <= q0) continue;
            long at = t * f.Wp + q0 - lo;
            AddBiasRow(y0 + at, dst + 2 * t * f.Q + q0, q1 - q0, add);
            if (2 * t + 1 < f.P) AddBiasRow(y1 + at, dst + (2 * t + 1) * f.Q + q0, q1 - q0, add);
        }
    }
}

/// <summary>
/// Note [Row Winograd weight gradient]: the adjoint of Note [Row Winograd]. With dy0, dy1 the output rows 2t, 2t+1:
///   dM0 = dy0, dM1 = dy0 + dy1, dM2 = dy0 - dy1, dM3 = -dy1
///   dU_j[s] = Σ_images Σ_o dM_j[o] · V_j[o + s]          (2 output channels x 4 components x 3 columns in registers)
///   dw[., ., 0, s] = dU0 + (dU1 + dU2)/2,  dw[., ., 1, s] = (dU1 - dU2)/2,  dw[., ., 2, s] = (dU1 + dU2)/2 + dU3
/// Four products per pair of output rows where the direct weight gradient needs six. dy is laid out on the grid of
/// tile rows (row 2t and row 2t+1 as two planes, zero past Q and past P), V as in the forward. Images are prepared a
/// batch at a time and summed in a fixed order, so the result does not depend on the thread count.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>Output channels per weight-gradient register block (x 4 components x 3 columns = 24 accumulators).</summary>
    private const int WinoWeightKb = 2;

    private static void RowWinogradBackwardWeights(in ConvGeometry g, float* x, float* dy, float* dw)
    {
        var f = new FlatPlan(g.H, g.W, g.PadH, g.PadW, g.R, g.S, g.DilationH, g.DilationW);
        int n = g.N, c = g.C, k = g.K, s = g.S;
        if (n == 0)
        {
            new Span<float>(dw, k * c * 3 * s).Clear();
            return;
        }
        int tileRows = (f.P + 1) / 2;
        int vectors = (tileRows * f.Wp + 15) / 16;
        long dyPlane = (long)vectors * 16;                         // one of the two dy rows of each tile row, flat
        long vLength = (dyPlane + s - 1 + 15) & ~15L;              // V per component
        long vImage = (long)c * 4 * vLength, dyImage = (long)k * 2 * dyPlane;
        // Register passes read the 2 output channels' two dy planes per image.
        var (group, batch) = WeightGradBatches(n, WinoWeightKb * 2 * dyPlane * sizeof(float), (vImage + dyImage) * sizeof(float));
        int items = (k + WinoWeightKb - 1) / WinoWeightKb;
        int maxRows = (int)(2 * (vLength / f.Wp + 2) + 4);
        float* vBuf = (float*)RentScratch<float>((long)batch * vImage, out long vBytes);
        float* dyBuf = (float*)RentScratch<float>((long)batch * dyImage, out long dBytes);
        float* allSums = (float*)RentScratch<float>((long)items * c * 24, out long sBytes);   // per item (C, 2 k, 4 j, 3 s)
        int chunks = CpuParallel.Threads;
        float* rowScratch = (float*)RentScratch<float>((long)chunks * maxRows * f.Wp, out long rBytes);
        try
        {
            new Span<float>(allSums, items * c * 24).Clear();
            nint pv = (nint)vBuf, pd = (nint)dyBuf, ps = (nint)allSums, pr = (nint)rowScratch, px = (nint)x, pdy = (nint)dy;
            for (int b0 = 0; b0 < n; b0 += batch)
            {
                int inBatch = Math.Min(batch, n - b0);
                // V of every (image, channel) and dy of every (image, output channel) on the tile grid.
                CpuParallel.ForRanges((long)inBatch * c, Math.Min(chunks, inBatch * c), (chunk, start, len) =>
                {
                    float* rows = (float*)pr + (long)chunk * maxRows * f.Wp;
                    for (long i = start; i < start + len; i++)
                        RowWinogradInput((float*)px + ((long)b0 * c + i) * f.H * f.W, f, 0, vLength, vLength, rows, (float*)pv + i * 4 * vLength);
                });
                CpuParallel.ForRanges((long)inBatch * k, Math.Min(chunks, inBatch * k), (_, start, len) =>
                {
                    for (long i = start; i < start + len; i++)
                        TileRowsOfDy((float*)pdy + ((long)b0 * k + i) * f.P * f.Q, f, dyPlane, (float*)pd + i * 2 * dyPlane);
                });
                CpuParallel.For(items, item =>
                {
                    int k0 = Math.Min(item * WinoWeightKb, k - 1), k1 = Math.Min(item * WinoWeightKb + 1, k - 1);   // a short block repeats its last k
                    float* sums = (float*)ps + (long)item * c * 24;
                    for (int g0 = 0; g0 < inBatch; g0 += group)
                    {
                        int images = Math.Min(group, inBatch - g0);
                        for (int ci = 0; ci < c; ci++)
                            RowWinogradWeightBlock((float*)pd + ((long)g0 * k + k0) * 2 * dyPlane, (long)(k1 - k0) * 2 * dyPlane, dyPlane, dyImage,
                                                   (float*)pv + ((long)g0 * c + ci) * 4 * vLength, vLength, vImage, images, vectors, sums + ci * 24);
                    }
                });
            }
            // dU (per k, c: 4 components x 3 columns) -> dw (K, C, 3, S) through the adjoint of the filter transform.
            for (int item = 0; item < items; item++)
                for (int kk = 0; kk < WinoWeightKb && item * WinoWeightKb + kk < k; kk++)
                    for (int ci = 0; ci < c; ci++)
                    {
                        float* du = allSums + ((long)item * c + ci) * 24 + kk * 12;   // (4 j, 3 s)
                        float* dst = dw + ((long)(item * WinoWeightKb + kk) * c + ci) * 3 * s;
                        for (int sj = 0; sj < s; sj++)
                        {
                            float u0 = du[sj], u1 = du[3 + sj], u2 = du[6 + sj], u3 = -du[9 + sj];   // the kernel summed +dy1 for dM3
                            float half = (u1 + u2) * 0.5f;
                            dst[sj] = u0 + half;
                            dst[s + sj] = (u1 - u2) * 0.5f;
                            dst[2 * s + sj] = half + u3;
                        }
                    }
        }
        finally
        {
            ReturnScratch(rowScratch, rBytes);
            ReturnScratch(allSums, sBytes);
            ReturnScratch(dyBuf, dBytes);
            ReturnScratch(vBuf, vBytes);
        }
    }

    /// <summary>dy (P, Q) as two flat planes on the tile grid: [0] row 2t at t*Wp, [1] row 2t+1; zero past Q and P.</summary>
    private static void TileRowsOfDy(float* src, FlatPlan f, long dyPlane, float* dst)
    {
        new Span<float>(dst, (int)(2 * dyPlane)).Clear();
        for (int p = 0; p < f.P; p++)
            CopyRow(src + (long)p * f.Q, dst + (p & 1) * dyPlane + (long)(p >> 1) * f.Wp, f.Q);
    }

    /// <summary>
    /// sums[kk*12 + j*3 + s] += Σ_images Σ_o dM_j(kk)[o] · V_j[o + s] for 2 output channels (kk), 4 components, 3
    /// columns; dM from the two dy planes of each channel (dM3 summed as +dy1: the caller negates it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void RowWinogradWeightBlock(float* d0, long d1Offset, long dyPlane, long dyImage, float* v, long vLength, long vImage,
                                               int images, int vectors, float* sums)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;   // a{j}{s}, first channel
        Vector512<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        Vector512<float> b00 = default, b01 = default, b02 = default, b10 = default, b11 = default, b12 = default;   // second channel
        Vector512<float> b20 = default, b21 = default, b22 = default, b30 = default, b31 = default, b32 = default;
        long l2 = 2 * vLength, l3 = 3 * vLength;
        for (int img = 0; img < images; img++, d0 += dyImage, v += vImage)
        {
            float* e0 = d0, o0 = d0 + dyPlane, e1 = d0 + d1Offset, o1 = e1 + dyPlane;
            for (int i = 0; i < vectors; i++)
            {
                int at = i * 16;
                var ye = Vector512.Load(e0 + at); var yo = Vector512.Load(o0 + at);
                var ze = Vector512.Load(e1 + at); var zo = Vector512.Load(o1 + at);
                var ys = ye + yo; var yd = ye - yo; var zs = ze + zo; var zd = ze - zo;
                float* vp = v + at;
                var x = Vector512.Load(vp); a00 = Avx512F.FusedMultiplyAdd(ye, x, a00); b00 = Avx512F.FusedMultiplyAdd(ze, x, b00);
                x = Vector512.Load(vp + 1); a01 = Avx512F.FusedMultiplyAdd(ye, x, a01); b01 = Avx512F.FusedMultiplyAdd(ze, x, b01);
                x = Vector512.Load(vp + 2); a02 = Avx512F.FusedMultiplyAdd(ye, x, a02); b02 = Avx512F.FusedMultiplyAdd(ze, x, b02);
                x = Vector512.Load(vp + vLength); a10 = Avx512F.FusedMultiplyAdd(ys, x, a10); b10 = Avx512F.FusedMultiplyAdd(zs, x, b10);
                x = Vector512.Load(vp + vLength + 1); a11 = Avx512F.FusedMultiplyAdd(ys, x, a11); b11 = Avx512F.FusedMultiplyAdd(zs, x, b11);
                x = Vector512.Load(vp + vLength + 2); a12 = Avx512F.FusedMultiplyAdd(ys, x, a12); b12 = Avx512F.FusedMultiplyAdd(zs, x, b12);
                x = Vector512.Load(vp + l2); a20 = Avx512F.FusedMultiplyAdd(yd, x, a20); b20 = Avx512F.FusedMultiplyAdd(zd, x, b20);
                x = Vector512.Load(vp + l2 + 1); a21 = Avx512F.FusedMultiplyAdd(yd, x, a21); b21 = Avx512F.FusedMultiplyAdd(zd, x, b21);
                x = Vector512.Load(vp + l2 + 2); a22 = Avx512F.FusedMultiplyAdd(yd, x, a22); b22 = Avx512F.FusedMultiplyAdd(zd, x, b22);
                x = Vector512.Load(vp + l3); a30 = Avx512F.FusedMultiplyAdd(yo, x, a30); b30 = Avx512F.FusedMultiplyAdd(zo, x, b30);
                x = Vector512.Load(vp + l3 + 1); a31 = Avx512F.FusedMultiplyAdd(yo, x, a31); b31 = Avx512F.FusedMultiplyAdd(zo, x, b31);
                x = Vector512.Load(vp + l3 + 2); a32 = Avx512F.FusedMultiplyAdd(yo, x, a32); b32 = Avx512F.FusedMultiplyAdd(zo, x, b32);
            }
        }
        sums[0] += Vector512.Sum(a00); sums[1] += Vector512.Sum(a01); sums[2] += Vector512.Sum(a02);
        sums[3] += Vector512.Sum(a10); sums[4] += Vector512.Sum(a11); sums[5] += Vector512.Sum(a12);
        sums[6] += Vector512.Sum(a20); sums[7] += Vector512.Sum(a21); sums[8] += Vector512.Sum(a22);
        sums[9] += Vector512.Sum(a30); sums[10] += Vector512.Sum(a31); sums[11] += Vector512.Sum(a32);
        sums[12] += Vector512.Sum(b00); sums[13] += Vector512.Sum(b01); sums[14] += Vector512.Sum(b02);
        sums[15] += Vector512.Sum(b10); sums[16] += Vector512.Sum(b11); sums[17] += Vector512.Sum(b12);
        sums[18] += Vector512.Sum(b20); sums[19] += Vector512.Sum(b21); sums[20] += Vector512.Sum(b22);
        sums[21] += Vector512.Sum(b30); sums[22] += Vector512.Sum(b31); sums[23] += Vector512.Sum(b32);
    }
}
