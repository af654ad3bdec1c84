using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Note [Flat direct convolution]: stride-1 float32 convolutions (3x3, 5x5, any dilation) without im2col.
/// Input planes are copied (a band of one image, or a batch of images, at a time) into zero-padded flat planes of
/// row pitch Wp = W + padW: padH zero rows above
/// and below, and padW zeros between one row and the next, which serve as the right padding of the one and the
/// left padding of the other. Output (p, q) then reads flat index o + off(r, s) with o = p*Wp + q and
/// off = r*dh*Wp + s*dw: every tap is one constant offset, so 16 consecutive o are one unaligned vector load per
/// tap, with no edge cases. The o with q >= Q (Wp - Q = dw*(S-1) - padW columns per row: 1 for 3x3 pad 1) are
/// computed and thrown away (Wp/Q - 1 extra work: 3% at 32x32, 12% at 8x8); valid outputs read only the padded
/// image, never another row's data.
///   forward:          y[k, o]  = Σ_c Σ_taps w[k, c, tap] · xpad[c, o + off(tap)]    8 output channels x 32 o in registers
///   backward data:    the forward of dy padded by dil*(R-1) - pad with the filter flipped and transposed (stride 1)
///   backward weights: dw[k, c, tap] = Σ_n Σ_o dyflat[n, k, o] · xpad[n, c, o + off(tap)], dyflat zero where q >= Q;
///                     4 output channels x 6 (channel, tap) pairs in registers (every tap is an offset from the
///                     image's first padded plane, so a block may span channels), summed over o in vectors and over
///                     images in order (Block4x6)
/// Compared with im2col + GEMM, the column matrix (9x the input) is never written, packed and read again, and
/// the FMA units are fed from L1 even with 16 channels, where the per-image GEMM is too small to run well.
/// Every output element is a fixed sum independent of the batch split and the thread count (forward and backward
/// data: a fixed chain per (n, k, o); weights: lanes and images in a fixed order), see Note [Deterministic CPU].
/// The im2col path stays as the reference and for other shapes (strides, 1x1, float64, groups, no AVX-512).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>The CPU convolution paths for float32 (float64 always takes im2col).</summary>
    internal enum ConvPathKind { Im2Col, Direct, RowWinograd }

    /// <summary>Tests force a path where it applies (the next simpler one elsewhere); null: <see cref="PathFor"/> decides.</summary>
    [ThreadStatic] internal static ConvPathKind? ForceConvPath;   // per thread: tests running beside each other keep their own paths

    /// <summary>Tests shrink the forward's input band (bytes; 0: 256 KiB) to run many bands on small shapes.</summary>
    [ThreadStatic] internal static int DirectBandBytes;

    /// <summary>Tests set the images padded at once by the weight gradient (0: about 8 MiB of them), one per register pass.</summary>
    [ThreadStatic] internal static int DirectWeightBatchImages;

    /// <summary>Tests force the weight gradient's images stacked (true) or apart (false); null: by the map's size.</summary>
    [ThreadStatic] internal static bool? ForceStackedWeightGrad;

    /// <summary>Output channels per forward register block, and o per block (two 16-float vectors).</summary>
    private const int DirectKb = 8, DirectOb = 32;

    private static bool DirectConvApplies(in ConvGeometry g) =>
        Avx512F.IsSupported && g.StrideH == 1 && g.StrideW == 1 && g.Groups == 1 && !g.Pointwise && g.R * g.S > 1
        && g.PadH <= g.DilationH * (g.R - 1) && g.PadW <= g.DilationW * (g.S - 1);

    /// <summary>
    /// KILN_CPU_CONV=im2col, direct or winograd picks the path for every convolution where it applies (A/B timing,
    /// bisecting a numerical difference; winograd falls back to direct where it does not apply: other than 3 filter
    /// rows, dilation, or a weight gradient with other than 3 filter columns); unset or auto: <see cref="PathFor"/>
    /// decides per shape and pass.
    /// </summary>
    private static readonly Lazy<ConvPathKind?> EnvConvPath = new(() => Environment.GetEnvironmentVariable("KILN_CPU_CONV")?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "direct" => ConvPathKind.Direct,
        "winograd" => ConvPathKind.RowWinograd,
        "im2col" => ConvPathKind.Im2Col,
        var other => throw new ArgumentException($"KILN_CPU_CONV must be auto, direct, winograd or im2col, got '{other}'"),
    });

    /// <summary>
    /// The CPU path a float32 convolution of these shapes takes in one pass: "winograd" (Note [Row Winograd]), "direct"
    /// (Note [Flat direct convolution]), "gemm" (1x1, stride 1, no padding: the input is the GEMM operand) or "im2col",
    /// prefixed "phases+" for a stem split into stride-1 phases (Note [Phase-split stem convolution]). For
    /// `kiln bench conv2d` and logs; honours KILN_CPU_CONV.
    /// </summary>
    public static string ConvPath(ReadOnlySpan<int> x, ReadOnlySpan<int> w, Conv2dParams p, bool weights = false, bool backwardData = false) =>
        ConvPath(new ConvGeometry(x, w, p.OutputShape(x, w), p), weights, backwardData);

    private static string ConvPath(in ConvGeometry g, bool weights, bool backwardData)
    {
        if (PhaseSplitApplies(g) && !backwardData) return "phases+" + ConvPath(PhaseGeometry(g), weights, false);
        return PathFor(g, weights) switch
        {
            ConvPathKind.RowWinograd => "winograd",
            ConvPathKind.Direct => "direct",
            _ => g.Pointwise ? "gemm" : "im2col",
        };
    }

    private static ConvPathKind PathFor(in ConvGeometry g, bool weights = false)
    {
        if (!DirectConvApplies(g)) return ConvPathKind.Im2Col;
        var chosen = ForceConvPath ?? EnvConvPath.Value ?? (!DirectConvPays(g, weights) ? ConvPathKind.Im2Col
            // The Winograd weight gradient reads V (twice the input) once per 2 output channels: it paid only with 16
            // channels on one thread (batch 128, 32x32: 7.2 -> 6.2 ms; 64 ch 8x8: 9.2 -> 10.9; 64 ch 56x56: 38.9 -> 45.4),
            // and since the direct path's 4x6 block it loses there on two threads (2026-11-26: 3.9-4.4 against 3.7-4.0 ms)
            // while winning by about as much on one (5.8-6.0 against 6.4-6.7). The choice may not depend on the thread
            // count (Note [Deterministic CPU]), so the weight gradient is direct: it scales, Winograd is bandwidth-bound.
            : !weights ? ConvPathKind.RowWinograd : ConvPathKind.Direct);
        // The weight gradient's Winograd kernel holds 3 filter columns in registers.
        if (chosen == ConvPathKind.RowWinograd && (!RowWinogradApplies(g) || (weights && g.S != 3))) chosen = ConvPathKind.Direct;
        return chosen;
    }

    /// <summary>
    /// Where the direct path beats im2col + GEMM, measured one thread at a time on the 2-core Zen 5 (2026-11-26, ms,
    /// im2col -> direct; see docs/cpu-profile.md). Forward and backward data run near the FMA peak and win or tie
    /// everywhere: 16 ch 32x32 (batch 128) 10.3 -> 6.9; 64 ch 8x8 9.5 -> 8.4; 512 ch 7x7 (batch 16) 57.5 -> 46.7;
    /// 256 ch 14x14 39.6 -> 38.6. The weight gradient reduces 16 lanes per element and, on small maps, runs short
    /// vectors: it wins with few channels (16 ch 32x32 12.8 -> 7.7; 64 ch 8x8 9.3 -> 7.6) and on wide maps, and loses
    /// 7x7-14x14 maps with many channels (512 ch 7x7 39.7 -> 52.7; 256 ch 14x14 37.3 -> 39.9).
    /// </summary>
    private static bool DirectConvPays(in ConvGeometry g, bool weights) =>
        !weights || (g.C <= 64 && g.K <= 64) || g.Q >= 24;

    /// <summary>The flat padded layout of one convolution's input planes (see Note [Flat direct convolution]).</summary>
    private readonly struct FlatPlan
    {
        public readonly int H, W, PadH, PadW, Hp, Wp, P, Q, Taps;
        /// <summary>Output positions on the flat grid (P*Wp), and forward blocks of <see cref="DirectOb"/> of them.</summary>
        public readonly int Flat, Blocks;
        /// <summary>Floats per padded plane, with zero slack so that every block's loads stay inside it.</summary>
        public readonly long Plane;
        public readonly int[] Offsets;

        public FlatPlan(int h, int w, int padH, int padW, int r, int s, int dh, int dw)
        {
            (H, W, PadH, PadW) = (h, w, padH, padW);
            (Hp, Wp) = (h + 2 * padH, w + padW);     // side padding shared between rows
            P = Hp - dh * (r - 1);
            Q = w + 2 * padW - dw * (s - 1);
            Taps = r * s;
            Flat = P * Wp;
            Blocks = (Flat + DirectOb - 1) / DirectOb;
            Offsets = new int[Taps];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++) Offsets[i * s + j] = i * dh * Wp + j * dw;
            int maxOff = Offsets[Taps - 1];
            // The last row's right padding lies past Hp*Wp; blocks past the last row read garbage-only slack.
            Plane = (Math.Max((long)Hp * Wp + padW, (long)Blocks * DirectOb + maxOff) + 15) & ~15L;
        }
    }

    private static void DirectForward(in ConvGeometry g, float* x, float* w, float* bias, float* y) =>
        FlatConvolution(g, new FlatPlan(g.H, g.W, g.PadH, g.PadW, g.R, g.S, g.DilationH, g.DilationW), w, x, bias, y, flip: false);

    /// <summary>dx = the forward convolution of dy, padded by dil*(R-1) - pad, with w flipped in space and transposed (C, K).</summary>
    private static void DirectBackwardData(in ConvGeometry g, float* w, float* dy, float* dx) =>
        FlatConvolution(g, new FlatPlan(g.P, g.Q, g.DilationH * (g.R - 1) - g.PadH, g.DilationW * (g.S - 1) - g.PadW, g.R, g.S, g.DilationH, g.DilationW),
                        w, dy, null, dx, flip: true);

    /// <summary>
    /// dst = the stride-1 convolution of src (f its flat plan) with w, or, with flip, with w flipped and transposed
    /// (backward data), by row Winograd or the direct kernel as <see cref="PathFor"/> says.
    /// </summary>
    private static void FlatConvolution(in ConvGeometry g, FlatPlan f, float* w, float* src, float* bias, float* dst, bool flip)
    {
        int inCh = flip ? g.K : g.C, outCh = flip ? g.C : g.K;
        bool winograd = PathFor(g) == ConvPathKind.RowWinograd;
        long blocks = (outCh + DirectKb - 1) / DirectKb;   // also covers Winograd's blocks of 4
        float* packed = (float*)RentScratch<float>(blocks * DirectKb * inCh * (winograd ? 4 * g.S : f.Taps), out long wBytes);
        try
        {
            if (winograd)
            {
                PackRowWinograd(w, g.K, g.C, g.S, flip, packed);
                RowWinogradConvolve(src, packed, bias, dst, g.N, inCh, outCh, f);
            }
            else
            {
                PackFilter(w, g.K, g.C, f.Taps, flip, packed);
                DirectConvolve(src, packed, bias, dst, g.N, inCh, outCh, f);
            }
        }
        finally
        {
            ReturnScratch(packed, wBytes);
        }
    }

    /// <summary>
    /// y (N, K, P, Q) = the convolution of x (N, C, H, W) with the packed filter (K/8, C, Taps, 8). Work items are
    /// (image, band of output blocks): each pads the input positions its band reads, for all channels (about 256 KiB),
    /// into its own buffer, where they stay in L2 while every k block runs over them. No padded copy of the whole
    /// batch exists (it raised ResNet-50's peak memory by 69 MiB), and the copy is read back from cache.
    /// </summary>
    private static void DirectConvolve(float* x, float* packed, float* bias, float* y, int n, int c, int k, FlatPlan f)
    {
        int kBlocks = (k + DirectKb - 1) / DirectKb;
        int bandBlocks = (int)Math.Clamp((DirectBandBytes > 0 ? DirectBandBytes : 256 << 10) / ((long)c * DirectOb * sizeof(float)), 1, f.Blocks);
        int bands = (f.Blocks + bandBlocks - 1) / bandBlocks;
        int items = n * bands;
        if (items == 0 || k == 0) return;
        int ranges = Math.Min(items, CpuParallel.Threads);
        int ldo = bandBlocks * DirectOb;
        long bandLength = ((long)ldo + f.Offsets[^1] + 15) & ~15L;   // padded input positions one band reads, per channel
        long outLength = (long)DirectKb * ldo;                        // (8, band) flat outputs of one k block
        long scratchLength = outLength + c * bandLength;
        var offsets = f.Offsets;
        nint px = (nint)x, pw = (nint)packed, pb = (nint)bias, py = (nint)y;
        using var scratch = new RangeScratch(ranges, scratchLength);
        CpuParallel.ForRanges(items, ranges, (r, start, len) =>
    {
            float* outFlat = scratch[r];
            float* xb = outFlat + outLength;   // (C, bandLength): padded positions [b0*32, b0*32 + bandLength)
            fixed (int* off = offsets)
                for (long item = start; item < start + len; item++)
                {
                    int img = (int)(item / bands), band = (int)(item % bands);
                    int b0 = band * bandBlocks, b1 = Math.Min(f.Blocks, b0 + bandBlocks);
                    for (int ci = 0; ci < c; ci++)
                        PadRange((float*)px + ((long)img * c + ci) * f.H * f.W, f, (long)b0 * DirectOb, bandLength, xb + ci * bandLength);
                    for (int kb = 0; kb < kBlocks; kb++)
                    {
                        float* wk = (float*)pw + (long)kb * c * f.Taps * DirectKb;
                        for (int b = b0; b < b1; b++)
                            Block8x32(xb + (b - b0) * DirectOb, bandLength, wk, c, off, f.Taps, outFlat + (b - b0) * DirectOb, ldo);
                        int k0 = kb * DirectKb, kn = Math.Min(DirectKb, k - k0);
                        for (int kk = 0; kk < kn; kk++)
                            StoreFlatRange(outFlat + (long)kk * ldo, b0 * DirectOb, b1 * DirectOb, f,
                                           (float*)py + ((long)img * k + k0 + kk) * f.P * f.Q, pb == 0 ? 0f : ((float*)pb)[k0 + kk]);
                    }
                }
        });
    }

    /// <summary>dst[i] = the padded flat plane of src (H, W) at position lo + i, for i &lt; length (zero past the plane).</summary>
    private static void PadRange(float* src, FlatPlan f, long lo, long length, float* dst)
    {
        long hi = lo + length;
        for (long pos = lo; pos < hi;)
        {
            long row = pos / f.Wp, rowStart = row * f.Wp, end = Math.Min(rowStart + f.Wp, hi);
            long h = row - f.PadH;
            float* d = dst + (pos - lo);
            if (h < 0 || h >= f.H)
                new Span<float>(d, (int)(end - pos)).Clear();
            else
            {
                // Padded row: padW zeros, then the W pixels of input row h.
                long dataStart = rowStart + f.PadW;
                if (pos < dataStart)
                {
                    long zeros = Math.Min(dataStart, end) - pos;
                    new Span<float>(d, (int)zeros).Clear();
                    d += zeros;
                    pos += zeros;
                }
                if (end > pos) CopyRow(src + h * f.W + (pos - dataStart), d, (int)(end - pos));
            }
            pos = end;
        }
    }

    /// <summary>
    /// The valid outputs among flat positions [lo, hi) (src[0] is position lo) into the plane dst (P, Q), plus add:
    /// position o is row o / Wp, column o % Wp, valid for column &lt; Q and row &lt; P.
    /// </summary>
    private static void StoreFlatRange(float* src, int lo, int hi, FlatPlan f, float* dst, float add)
    {
        hi = Math.Min(hi, f.Flat);
        for (int p = lo / f.Wp; p * f.Wp < hi; p++)
        {
            int q0 = Math.Max(0, lo - p * f.Wp), q1 = Math.Min(f.Q, hi - p * f.Wp);
            if (q1 > q0) AddBiasRow(src + (p * f.Wp + q0 - lo), dst + (long)p * f.Q + q0, q1 - q0, add);
        }
    }

    /// <summary>dst[i] = src[i] + add for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddBiasRow(float* src, float* dst, int n, float add)
    {
        int i = 0;
        var a = Vector512.Create(add);
        for (; i + 16 <= n; i += 16) (Vector512.Load(src + i) + a).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i] + add;
    }

    /// <summary>
    /// out[kk, j] (8 rows of ldo, 32 columns) = Σ_c Σ_t w[c, t, kk] · x[c*plane + off[t] + j]: 16 accumulators, per tap
    /// two loads of x and eight broadcasts of w. x points at the block's first output position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]   // inlined, its 16 accumulators spill
    private static void Block8x32(float* x, long plane, float* w, int c, int* off, int taps, float* o, int ldo)
    {
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector512<float> a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        for (int ci = 0; ci < c; ci++, x += plane)
            for (int t = 0; t < taps; t++, w += DirectKb)
            {
                float* xp = x + off[t];
                var v0 = Vector512.Load(xp);
                var v1 = Vector512.Load(xp + 16);
                var b = Vector512.Create(w[0]); a00 = Avx512F.FusedMultiplyAdd(b, v0, a00); a01 = Avx512F.FusedMultiplyAdd(b, v1, a01);
                b = Vector512.Create(w[1]); a10 = Avx512F.FusedMultiplyAdd(b, v0, a10); a11 = Avx512F.FusedMultiplyAdd(b, v1, a11);
                b = Vector512.Create(w[2]); a20 = Avx512F.FusedMultiplyAdd(b, v0, a20); a21 = Avx512F.FusedMultiplyAdd(b, v1, a21);
                b = Vector512.Create(w[3]); a30 = Avx512F.FusedMultiplyAdd(b, v0, a30); a31 = Avx512F.FusedMultiplyAdd(b, v1, a31);
                b = Vector512.Create(w[4]); a40 = Avx512F.FusedMultiplyAdd(b, v0, a40); a41 = Avx512F.FusedMultiplyAdd(b, v1, a41);
                b = Vector512.Create(w[5]); a50 = Avx512F.FusedMultiplyAdd(b, v0, a50); a51 = Avx512F.FusedMultiplyAdd(b, v1, a51);
                b = Vector512.Create(w[6]); a60 = Avx512F.FusedMultiplyAdd(b, v0, a60); a61 = Avx512F.FusedMultiplyAdd(b, v1, a61);
                b = Vector512.Create(w[7]); a70 = Avx512F.FusedMultiplyAdd(b, v0, a70); a71 = Avx512F.FusedMultiplyAdd(b, v1, a71);
            }
        a00.Store(o); a01.Store(o + 16); o += ldo;
        a10.Store(o); a11.Store(o + 16); o += ldo;
        a20.Store(o); a21.Store(o + 16); o += ldo;
        a30.Store(o); a31.Store(o + 16); o += ldo;
        a40.Store(o); a41.Store(o + 16); o += ldo;
        a50.Store(o); a51.Store(o + 16); o += ldo;
        a60.Store(o); a61.Store(o + 16); o += ldo;
        a70.Store(o); a71.Store(o + 16);
    }

    /// <summary>
    /// Packs w (K, C, taps) into (ceil(K/8), C, taps, 8), zero for k >= K; with flip, the filter of the backward-data
    /// convolution: w' (C, K, taps) with w'[c, k, t] = w[k, c, taps-1-t], packed as (ceil(C/8), K, taps, 8).
    /// </summary>
    private static void PackFilter(float* w, int k, int c, int taps, bool flip, float* packed)
    {
        int outCh = flip ? c : k, inCh = flip ? k : c;
        int blocks = (outCh + DirectKb - 1) / DirectKb;
        nint pw = (nint)w, pp = (nint)packed;
        // In parallel over blocks: a 256x256 3x3 filter took ~1 ms on one thread, 10% of its layer's pass.
        CpuParallel.For(blocks, kb =>
        {
            for (int ci = 0; ci < inCh; ci++)
                for (int t = 0; t < taps; t++)
                {
                    float* dst = (float*)pp + (((long)kb * inCh + ci) * taps + t) * DirectKb;
                    for (int kk = 0; kk < DirectKb; kk++)
                    {
                        int ko = kb * DirectKb + kk;
                        dst[kk] = ko >= outCh ? 0f
                            : flip ? ((float*)pw)[((long)ci * c + ko) * taps + taps - 1 - t]
                            : ((float*)pw)[((long)ko * c + ci) * taps + t];
                    }
                }
        });
    }

    /// <summary>
    /// Copies planes (h, w) into zero-padded flat planes of planeLength floats: input row i at (i + padH)*rowStride + padW,
    /// everything else zero. Lays out x with padding, and dy on the flat grid of x (rowStride Wp, columns q >= Q zero).
    /// </summary>
    private static void PadPlanes(float* src, long planes, int h, int w, int padH, int padW, int rowStride, long planeLength, float* dst)
    {
        nint ps = (nint)src, pd = (nint)dst;
        int chunks = CpuParallel.ChunkCount(planes * planeLength, 1 << 16);
        CpuParallel.ForRanges(planes, (int)Math.Min(chunks, planes), (_, start, len) =>
        {
            for (long i = start; i < start + len; i++)
                PadPlane((float*)ps + i * h * w, h, w, padH, padW, rowStride, planeLength, 0f, (float*)pd + i * planeLength);
        });
    }

    /// <summary>One plane of <see cref="PadPlanes(float*, long, int, int, int, int, int, long, float*)"/>, padded with fill.</summary>
    private static void PadPlane(float* s, int h, int w, int padH, int padW, int rowStride, long planeLength, float fill, float* d)
    {
        long at = 0;   // next flat position to write
        for (int row = 0; row < h; row++)
        {
            long rowStart = (long)(row + padH) * rowStride + padW;
            new Span<float>(d + at, (int)(rowStart - at)).Fill(fill);
            CopyRow(s + (long)row * w, d + rowStart, w);
            at = rowStart + w;
        }
        new Span<float>(d + at, (int)(planeLength - at)).Fill(fill);
    }

    private static void PadPlanes(float* src, long planes, FlatPlan f, float* dst) =>
        PadPlanes(src, planes, f.H, f.W, f.PadH, f.PadW, f.Wp, f.Plane, dst);

    /// <summary>
    /// dw (K, C, R, S) for a stride-1 convolution: see Note [Flat direct convolution]. Images are padded a batch at a
    /// time (about 8 MiB of padded x and flat dy), not the whole mini-batch at once, to keep peak memory down.
    /// With prepareX(n0, count, planeLength, dst), that lays out images [n0, n0 + count) itself (the phase-split stems)
    /// and x is not read.
    /// </summary>
    private static void DirectBackwardWeights(in ConvGeometry g, float* x, float* dy, float* dw, Func<int, int, bool>? tapUsed = null,
        PrepareFlatX? prepareX = null)
    {
        var f = new FlatPlan(g.H, g.W, g.PadH, g.PadW, g.R, g.S, g.DilationH, g.DilationW);
        int vectors = (f.Flat + 15) / 16;
        long dyPlane = (long)vectors * 16;   // dy on x's flat grid: row p at p*Wp, columns q >= Q and the tail zero
        int n = g.N, c = g.C, k = g.K, taps = f.Taps;
        if (n == 0)
        {
            new Span<float>(dw, k * c * taps).Clear();
            return;
        }
        long plane = f.Plane;
        // The (input channel, tap) pairs to compute, in chunks of WgE for the register block: a chunk may span two
        // channels, since every tap is an offset from the image's first padded plane. With tapUsed (the phase-split
        // stems' zero taps, Note [Phase-split stem convolution]) the others are skipped and their dw left unwritten.
        var entries = new List<(int C, int Tap)>(c * taps);
        for (int ci = 0; ci < c; ci++)
            for (int t = 0; t < taps; t++)
                if (tapUsed is null || tapUsed(ci, t)) entries.Add((ci, t));
        if (entries.Count == 0) return;
        // Register passes read WgK dy planes per image.
        var (group, batch) = WeightGradBatches(n, WgK * dyPlane * sizeof(float), ((long)c * plane + (long)k * dyPlane) * sizeof(float));

        // Note [Stacked weight gradient]: on small maps an image gives the register block only a few vectors (8x8: 5),
        // so a batch's images are laid one under the other in one tall plane per channel, sharing their padding rows
        // (as the rows share their side padding), and each block runs once over the whole stack. The rows between
        // images are outputs nobody wants: dy is zero there, as in the columns past Q. It needs an image's output
        // rows to fit in its period of H + padH rows (padH <= dilH*(R-1), "same" padding or less). Measured (2026-11-26,
        // batch 128, 2 threads, best of runs): 64 ch 8x8 4.47 -> 4.05 ms; 32 ch 16x16 4.0 -> 4.9-5.2 (slower, not
        // understood), so only maps of up to 128 flat positions (8x8: 72) are stacked; 512 ch 7x7 stays on im2col
        // (22.6 ms against 29.7 stacked).
        int period = g.H + g.PadH;
        bool stacked = (ForceStackedWeightGrad ?? f.Flat <= StackedWeightGradMaxFlat) && g.PadH <= g.DilationH * (g.R - 1) && prepareX is null;
        long xChannel = plane, dyChannel = dyPlane;     // from one channel's plane to the next
        int blockVectors = vectors;
        if (stacked)
        {
            // dy: every image's period of rows (the last one's output rows end inside it); x: its bottom padding too, and
            // every position a block reads, zero where no row is.
            blockVectors = (int)(((long)batch * period * f.Wp + 15) / 16);
            dyChannel = (long)blockVectors * 16;
            xChannel = (Math.Max(dyChannel + f.Offsets[^1], ((long)batch * period + g.PadH) * f.Wp + g.PadW) + 15) & ~15L;
            group = batch;
        }
        // An item is a k block and a run of chunks, walked image group by image group so the block's dy planes stay in
        // cache across its chunks; a block's chunks are split into runs only where that balances the threads.
        int kBlocks = (k + WgK - 1) / WgK, chunks = (entries.Count + WgE - 1) / WgE;
        int runs = BalancedRuns(kBlocks, chunks, CpuParallel.Threads), items = kBlocks * runs;
        var offsets = new int[chunks * WgE];   // per chunk slot: the entry's offset from the first plane
        for (int e = 0; e < chunks * WgE; e++)
        {
            var (ci, t) = entries[Math.Min(e, entries.Count - 1)];   // a short last chunk repeats its last entry
            offsets[e] = checked((int)(ci * xChannel + f.Offsets[t]));
        }
        float* xpad = (float*)RentScratch<float>(stacked ? c * xChannel : (long)batch * c * plane, out long xBytes);
        float* dyFlat = (float*)RentScratch<float>(stacked ? k * dyChannel : (long)batch * k * dyPlane, out long dBytes);
        float* allSums = (float*)RentScratch<float>((long)kBlocks * chunks * WgK * WgE, out long sBytes);   // per (k block, chunk): (WgK k, WgE entries)
        try
        {
            new Span<float>(allSums, kBlocks * chunks * WgK * WgE).Clear();
            nint px = (nint)xpad, pd = (nint)dyFlat, ps = (nint)allSums;
            for (int b0 = 0; b0 < n; b0 += batch)
            {
                int inBatch = Math.Min(batch, n - b0);
                if (stacked)
                {
                    StackPlanes(x + (long)b0 * c * g.HW, inBatch, c, g.H, g.W, g.PadH, g.PadW, f.Wp, period, xChannel, xpad);
                    StackPlanes(dy + (long)b0 * k * g.PQ, inBatch, k, g.P, g.Q, 0, 0, f.Wp, period, dyChannel, dyFlat);
                }
                else
                {
                    if (prepareX is not null) prepareX(b0, inBatch, plane, xpad);
                    else PadPlanes(x + (long)b0 * c * g.HW, (long)inBatch * c, f, xpad);
                    PadPlanes(dy + (long)b0 * k * g.PQ, (long)inBatch * k, g.P, g.Q, 0, 0, f.Wp, dyPlane, dyFlat);
                }
                // Items: (k block, run of chunks); each owns its dw elements, so no partial sums cross items.
                CpuParallel.For(items, item =>
                {
                    int kb = item / runs, run = item % runs, chunk0 = chunks * run / runs, chunk1 = chunks * (run + 1) / runs;
                    int* kIdx = stackalloc int[WgK];
                    for (int kk = 0; kk < WgK; kk++) kIdx[kk] = Math.Min(kb * WgK + kk, k - 1);  // a short block repeats its last k
                    int passes = stacked ? (blockVectors + StackedPassVectors - 1) / StackedPassVectors : (inBatch + group - 1) / group;
                    fixed (int* allOff = offsets)
                        for (int pass = 0; pass < passes; pass++)
                        {
                            // Apart: a group of images. Stacked: a run of the tall planes, short enough that the block's
                            // WgK dy runs stay in L2 while every chunk reads them.
                            long start = stacked ? (long)pass * StackedPassVectors * 16 : 0;
                            int g0 = stacked ? 0 : pass * group, images = stacked ? 1 : Math.Min(group, inBatch - g0);
                            int passVectors = stacked ? (int)Math.Min(StackedPassVectors, blockVectors - (long)pass * StackedPassVectors) : vectors;
                            float* d0 = (float*)pd + (long)g0 * k * dyPlane + kIdx[0] * dyChannel + start;
                            float* xg = (float*)px + (long)g0 * c * plane + start;
                            for (int chunk = chunk0; chunk < chunk1; chunk++)
                                Block4x6(d0, (kIdx[1] - kIdx[0]) * dyChannel, (kIdx[2] - kIdx[0]) * dyChannel, (kIdx[3] - kIdx[0]) * dyChannel,
                                         k * dyPlane, xg, c * plane, images, allOff + chunk * WgE, passVectors,
                                         (float*)ps + ((long)kb * chunks + chunk) * WgK * WgE);
                        }
                });
            }
            for (int block = 0; block < kBlocks * chunks; block++)
            {
                int kb = block / chunks, e0 = block % chunks * WgE, en = Math.Min(WgE, entries.Count - e0);
                float* sums = allSums + (long)block * WgK * WgE;
                for (int kk = 0; kk < WgK && kb * WgK + kk < k; kk++)
                    for (int e = 0; e < en; e++)
                    {
                        var (ci, t) = entries[e0 + e];
                        dw[((long)(kb * WgK + kk) * c + ci) * taps + t] = sums[kk * WgE + e];
                    }
            }
        }
        finally
        {
            ReturnScratch(allSums, sBytes);
            ReturnScratch(dyFlat, dBytes);
            ReturnScratch(xpad, xBytes);
        }
    }

    /// <summary>Lays out images [n0, n0 + count) of a weight gradient's input as flat planes of planeLength floats at dst.</summary>
    private delegate void PrepareFlatX(int n0, int count, long planeLength, float* dst);

    /// <summary>
    /// Runs of chunks per k block such that the items (kBlocks * runs) keep every thread busy to the
    /// end: ResNet-20's 32-channel layers have 11 k blocks, which two threads ran as 6 and 5 (8% idle); 2 runs make 22.
    /// Splitting a block's chunks costs a second read of its dy planes, so the fewest runs that reach 97% are taken.
    /// </summary>
    internal static int BalancedRuns(int kBlocks, int chunks, int threads)
    {
        int best = 1;
        double bestUse = 0;
        for (int runs = 1; runs <= Math.Min(chunks, 8); runs++)
        {
            int items = kBlocks * runs;
            double use = (double)items / (threads * ((items + threads - 1) / threads));
            if (use > bestUse + 1e-9) (best, bestUse) = (runs, use);
            if (use >= 0.97) break;
        }
        return best;
    }

    /// <summary>Flat positions per image (P*Wp) up to which the weight gradient stacks images (Note [Stacked weight gradient]).</summary>
    private const int StackedWeightGradMaxFlat = 128;

    /// <summary>Vectors per stacked register pass: WgK dy runs of them in 256 KiB of L2, as WeightGradBatches' groups.</summary>
    private const int StackedPassVectors = (256 << 10) / (WgK * 64);

    /// <summary>
    /// Images (N, C, h, w) as C tall flat planes of <paramref name="channelLength"/> floats (Note [Stacked weight
    /// gradient]): image b's padded rows start at row b*period, rows share their side padding, images their padding
    /// rows; everything not written by a row is zero.
    /// </summary>
    private static void StackPlanes(float* src, int images, int channels, int h, int w, int padH, int padW, int rowStride, int period,
        long channelLength, float* dst)
    {
        nint ps = (nint)src, pd = (nint)dst;
        long imageLength = (long)period * rowStride;
        CpuParallel.ForRanges(channels, Math.Min(channels, CpuParallel.ChunkCount((long)channels * images * imageLength, 1 << 16)), (_, start, len) =>
        {
            for (long ch = start; ch < start + len; ch++)
            {
                float* d = (float*)pd + ch * channelLength;
                for (int b = 0; b < images; b++)
                    PadPlane((float*)ps + ((long)b * channels + ch) * h * w, h, w, padH, padW, rowStride, imageLength, 0f, d + b * imageLength);
                new Span<float>(d + images * imageLength, (int)(channelLength - images * imageLength)).Clear();
            }
        });
    }

    /// <summary>
    /// Images per register pass of a weight gradient (their dy planes, groupBytes per image, stay in 256 KiB of L2
    /// while every input channel reads them) and images prepared at once (whole register groups, so the order in which
    /// images are summed does not change; about 8 MiB at perImageBytes each, at least one group). Tests force one
    /// image per pass.
    /// </summary>
    private static (int Group, int Batch) WeightGradBatches(int n, long groupBytes, long perImageBytes)
    {
        if (DirectWeightBatchImages > 0) return (1, Math.Min(n, DirectWeightBatchImages));
        // The group never exceeds the ~8 MiB batch: 256 channels of 28x28 fitted 16 images' dy in L2, and prepared
        // all 16 at once (30 MiB, past the L3 cache), so every register block streamed x from memory
        // (2026-11-26, 2 threads: 85-92 -> 74-77 ms in a slow phase of the VM; one thread 140 -> 131 ms).
        int group = (int)Math.Clamp((256 << 10) / groupBytes, 1, Math.Min(n, Math.Max(1L, (8L << 20) / perImageBytes)));
        return (group, (int)Math.Min(n, group * Math.Max(1L, (8L << 20) / (group * perImageBytes))));
    }

    /// <summary>The weight gradient's register block: WgK output channels by WgE (input channel, tap) entries.</summary>
    private const int WgK = 4, WgE = 6;

    /// <summary>
    /// sums[kk*6 + t] += Σ_images Σ_o dy_kk[o] · x[o + off[t]] over o &lt; 16*vectors, where dy_kk = d0 + kk's offset
    /// (d1, d2, d3) and each image moves dy by dyImage and x by xImage: 24 accumulators, per 16 o four aligned loads of
    /// dy and six unaligned ones of x. Lanes are added once, after the last image. Four channels rather than three (the
    /// 3x9 block before it) leave no padding block for K a multiple of 4 (K = 16: 18 computed, 16 kept) and need a quarter
    /// fewer unaligned loads per FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Block4x6(float* d0, long d1, long d2, long d3, long dyImage, float* x, long xImage, int images, int* off, int vectors, float* sums)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default, a34 = default, a35 = default;
        int o0 = off[0], o1 = off[1], o2 = off[2], o3 = off[3], o4 = off[4], o5 = off[5];
        for (int img = 0; img < images; img++, d0 += dyImage, x += xImage)
            for (int v = 0; v < vectors; v++)
            {
                int o = v * 16;
                var y0 = Vector512.Load(d0 + o);
                var y1 = Vector512.Load(d0 + d1 + o);
                var y2 = Vector512.Load(d0 + d2 + o);
                var y3 = Vector512.Load(d0 + d3 + o);
                float* xo = x + o;
                var xv = Vector512.Load(xo + o0);
                a00 = Avx512F.FusedMultiplyAdd(y0, xv, a00); a10 = Avx512F.FusedMultiplyAdd(y1, xv, a10); a20 = Avx512F.FusedMultiplyAdd(y2, xv, a20); a30 = Avx512F.FusedMultiplyAdd(y3, xv, a30);
                xv = Vector512.Load(xo + o1);
                a01 = Avx512F.FusedMultiplyAdd(y0, xv, a01); a11 = Avx512F.FusedMultiplyAdd(y1, xv, a11); a21 = Avx512F.FusedMultiplyAdd(y2, xv, a21); a31 = Avx512F.FusedMultiplyAdd(y3, xv, a31);
                xv = Vector512.Load(xo + o2);
                a02 = Avx512F.FusedMultiplyAdd(y0, xv, a02); a12 = Avx512F.FusedMultiplyAdd(y1, xv, a12); a22 = Avx512F.FusedMultiplyAdd(y2, xv, a22); a32 = Avx512F.FusedMultiplyAdd(y3, xv, a32);
                xv = Vector512.Load(xo + o3);
                a03 = Avx512F.FusedMultiplyAdd(y0, xv, a03); a13 = Avx512F.FusedMultiplyAdd(y1, xv, a13); a23 = Avx512F.FusedMultiplyAdd(y2, xv, a23); a33 = Avx512F.FusedMultiplyAdd(y3, xv, a33);
                xv = Vector512.Load(xo + o4);
                a04 = Avx512F.FusedMultiplyAdd(y0, xv, a04); a14 = Avx512F.FusedMultiplyAdd(y1, xv, a14); a24 = Avx512F.FusedMultiplyAdd(y2, xv, a24); a34 = Avx512F.FusedMultiplyAdd(y3, xv, a34);
                xv = Vector512.Load(xo + o5);
                a05 = Avx512F.FusedMultiplyAdd(y0, xv, a05); a15 = Avx512F.FusedMultiplyAdd(y1, xv, a15); a25 = Avx512F.FusedMultiplyAdd(y2, xv, a25); a35 = Avx512F.FusedMultiplyAdd(y3, xv, a35);
            }
        sums[0] += Vector512.Sum(a00); sums[1] += Vector512.Sum(a01); sums[2] += Vector512.Sum(a02);
        sums[3] += Vector512.Sum(a03); sums[4] += Vector512.Sum(a04); sums[5] += Vector512.Sum(a05);
        sums[6] += Vector512.Sum(a10); sums[7] += Vector512.Sum(a11); sums[8] += Vector512.Sum(a12);
        sums[9] += Vector512.Sum(a13); sums[10] += Vector512.Sum(a14); sums[11] += Vector512.Sum(a15);
        sums[12] += Vector512.Sum(a20); sums[13] += Vector512.Sum(a21); sums[14] += Vector512.Sum(a22);
        sums[15] += Vector512.Sum(a23); sums[16] += Vector512.Sum(a24); sums[17] += Vector512.Sum(a25);
        sums[18] += Vector512.Sum(a30); sums[19] += Vector512.Sum(a31); sums[20] += Vector512.Sum(a32);
        sums[21] += Vector512.Sum(a33); sums[22] += Vector512.Sum(a34); sums[23] += Vector512.Sum(a35);
    }
}
