using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Note [Phase-split stem convolution]: a stride-s convolution is a stride-1 convolution of the input's s x s phases.
/// With xpad the zero-padded input and phase (a, b) the plane X_ab[i, j] = xpad[s*i + a, s*j + b],
///   y[k, p, q] = Σ_c Σ_(a,b) Σ_(r',t') W_ab[k, c, r', t'] · X_ab[c, p + r', q + t'],   W_ab[., ., r', t'] = w[., ., s*r' + a, s*t' + b]
/// (zero where s*r' + a >= R), i.e. a stride-1, unpadded convolution over s*s*C channels with ceil(R/s)-square filters,
/// which runs on the direct or row-Winograd paths. The stems of the zoo are where this pays: few input channels make
/// im2col's strided gathers and a short GEMM (K = 64) slow, and the zero taps cost little: AlexNet's 11x11/4 becomes
/// 48 channels of 3x3 (144 taps for 121), ResNet's and GoogLeNet's 7x7/2 12 channels of 4x4 (64 for 49). A 3x3/2 layer
/// would compute 16 taps for 9 and stays on im2col. Forward and the weight gradient use it (the stems' backward
/// data is never needed); the weight gradient of the phase filter is gathered back, dropping the zero taps. On the direct
/// path the weight gradient does not compute them at all: its register block takes any 6 (channel, tap) pairs, so the
/// 363 real (channel, tap) pairs of AlexNet's stem fill 61 blocks instead of 72 (2026-11-26, batch 16, 2 threads, with the
/// 3x9 block then: 21.6 -> 18.7-19.1 ms).
/// The split reads each source row once, in order, and de-interleaves it into its s column phases with permutes; the
/// direct weight gradient splits a batch of images at a time straight into its flat planes, so the split input is
/// never whole in memory. AlexNet's split went from 1.4-1.7 ms (a gather per 8 floats, rows s apart) to about 0.8;
/// backward weights 13.8-14.3 -> 12.6-12.7 ms, forward 11.7-13.2 -> 11.0-11.8 (2026-11-26, batch 16, 2 threads, fast runs);
/// with the 4x6 block (64 channels in 16 blocks, not 22 of 3) 11.8 ms.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    private static bool PhaseSplitApplies(in ConvGeometry g)
    {
        int s = g.StrideH, rs = (g.R + s - 1) / s;
        return Avx512F.IsSupported && s >= 2 && g.StrideW == s && g.DilationH == 1 && g.DilationW == 1 && g.Groups == 1
            && g.R == g.S && g.C <= 16 && (double)(s * rs) * (s * rs) <= 1.35 * g.R * g.R
            && (ForceConvPath ?? EnvConvPath.Value) != ConvPathKind.Im2Col;
    }

    /// <summary>The stride-1 problem of Note [Phase-split stem convolution]: x' (N, s*s*C, P + R' - 1, Q + R' - 1), w' (K, s*s*C, R', R').</summary>
    private static ConvGeometry PhaseGeometry(in ConvGeometry g)
    {
        int s = g.StrideH, rs = (g.R + s - 1) / s;
        return new ConvGeometry([g.N, s * s * g.C, g.P + rs - 1, g.Q + rs - 1], [g.K, s * s * g.C, rs, rs], [g.N, g.K, g.P, g.Q], new Conv2dParams(1, 0));
    }

    private static void PhaseForward(in ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        var g1 = PhaseGeometry(g);
        float* xs = (float*)RentScratch<float>((long)g1.N * g1.C * g1.HW, out long xBytes);
        float* ws = (float*)RentScratch<float>((long)g1.K * g1.Crs, out long wBytes);
        try
        {
            SplitPhases(g, g1, x, xs, 0, g.N, g1.HW);
            for (int k = 0; k < g.K; k++)
                for (int c1 = 0; c1 < g1.C; c1++)
                    for (int r1 = 0; r1 < g1.R; r1++)
                        for (int t1 = 0; t1 < g1.S; t1++)
                        {
                            var (c, r, t) = PhaseTap(g, c1, r1, t1);
                            ws[((long)k * g1.C + c1) * g1.R * g1.S + r1 * g1.S + t1] = r < g.R && t < g.S ? w[(((long)k * g.C + c) * g.R + r) * g.S + t] : 0f;
                        }
            ForwardF32(g1, xs, ws, bias, y);
        }
        finally
        {
            ReturnScratch(ws, wBytes);
            ReturnScratch(xs, xBytes);
        }
    }

    private static void PhaseBackwardWeights(in ConvGeometry g, float* x, float* dy, float* dw)
    {
        var g1 = PhaseGeometry(g);
        float* dws = (float*)RentScratch<float>((long)g1.K * g1.Crs, out long wBytes);
        float* xs = null;
        long xBytes = 0;
        try
        {
            if (PathFor(g1, weights: true) == ConvPathKind.Direct)
            {
                // The direct path splits a batch of images at a time straight into its flat planes (the phases are
                // unpadded, so a flat plane is a phase plane with zero slack after it), and skips the zero taps
                // (11x11/4: 121 of the phases' 144).
                var geometry = g;
                var geometry1 = g1;
                nint px = (nint)x;
                DirectBackwardWeights(g1, null, dy, dws, (c1, tap) =>
                {
                    var (_, r, t) = PhaseTap(geometry, c1, tap / geometry1.S, tap % geometry1.S);
                    return r < geometry.R && t < geometry.S;
                }, (n0, count, planeLength, dst) => SplitPhases(geometry, geometry1, (float*)px, dst, n0, count, planeLength));
            }
            else
            {
                xs = (float*)RentScratch<float>((long)g1.N * g1.C * g1.HW, out xBytes);
                SplitPhases(g, g1, x, xs, 0, g.N, g1.HW);
                BackwardWeightsF32(g1, xs, dy, dws);
            }
            // Every real tap appears once among the phase taps; the zero taps' gradients are dropped.
            for (int k = 0; k < g.K; k++)
                for (int c1 = 0; c1 < g1.C; c1++)
                    for (int r1 = 0; r1 < g1.R; r1++)
                        for (int t1 = 0; t1 < g1.S; t1++)
                        {
                            var (c, r, t) = PhaseTap(g, c1, r1, t1);
                            if (r < g.R && t < g.S)
                                dw[(((long)k * g.C + c) * g.R + r) * g.S + t] = dws[((long)k * g1.C + c1) * g1.R * g1.S + r1 * g1.S + t1];
                        }
        }
        finally
        {
            ReturnScratch(dws, wBytes);
            if (xs != null) ReturnScratch(xs, xBytes);
        }
    }

    /// <summary>The original channel and filter tap of phase channel c1 = (a*s + b)*C + c and phase tap (r1, t1).</summary>
    private static (int C, int R, int T) PhaseTap(in ConvGeometry g, int c1, int r1, int t1)
    {
        int s = g.StrideH, phase = c1 / g.C;
        return (c1 % g.C, s * r1 + phase / s, s * t1 + phase % s);
    }

    /// <summary>
    /// x (N, C, H, W) -> x' (N, s*s*C, H', W') with x'[n, (a*s + b)*C + c, i, j] = x[n, c, s*i + a - padH, s*j + b - padW], zero outside,
    /// for images [n0, n0 + count) into planes of planeLength >= H'*W' floats (zero after H'*W') from xs on.
    /// One source row feeds the s phases b of its row phase a: it is copied once, zero-padded, into a row buffer and
    /// de-interleaved from there (strides 2 and 4 with AVX-512 permutes: AlexNet's split took 1.68 ms with a gather per
    /// 8 floats and phase).
    /// </summary>
    private static void SplitPhases(in ConvGeometry g, in ConvGeometry g1, float* x, float* xs, int n0, int count, long planeLength)
    {
        int s = g.StrideH, c = g.C, h = g.H, w = g.W, padH = g.PadH, padW = g.PadW, h1 = g1.H, w1 = g1.W, c1s = g1.C;
        int planes = count * c;
        int bufferLength = s * ((w1 + 15) / 16) * 16 + 16;
        nint px = (nint)(x + (long)n0 * c * h * w), pxs = (nint)xs;
        CpuParallel.ForRanges(planes, Math.Min(planes, CpuParallel.ChunkCount((long)planes * s * s * planeLength, 1 << 15)), (_, start, len) =>
        {
            float* buffer = stackalloc float[bufferLength];
            new Span<float>(buffer, bufferLength).Clear();
            int copyLo = Math.Max(0, padW), copyHi = Math.Min(s * w1, padW + w);   // buffer[m] = row[m - padW], zero elsewhere
            long phaseStride = c * planeLength;   // from phase (a, b) to (a, b + 1)
            for (long plane = start; plane < start + len; plane++)
            {
                int n = (int)(plane / c), ch = (int)(plane % c);
                float* src = (float*)px + plane * h * w;
                float* dst = (float*)pxs + ((long)n * c1s + ch) * planeLength;   // phase (0, 0); (a, b) is a*s + b phases on
                // Source rows in order (row s*i + a - padH), which the hardware prefetcher follows: walking one row
                // phase at a time, rows s apart, took 1.5x as long on a cold input.
                for (int i = 0; i < h1; i++)
                    for (int a = 0; a < s; a++)
                    {
                        float* d = dst + a * s * phaseStride + (long)i * w1;
                        int row = s * i + a - padH;
                        if ((uint)row >= (uint)h)
                        {
                            for (int b = 0; b < s; b++) new Span<float>(d + b * phaseStride, w1).Clear();
                            continue;
                        }
                        if (copyHi > copyLo) CopyRow(src + (long)row * w + copyLo - padW, buffer + copyLo, copyHi - copyLo);
                        for (int b = 0; b < s; b++) Deinterleave(buffer, s, b, d + b * phaseStride, w1);
                    }
                if (planeLength > (long)h1 * w1)
                    for (int phase = 0; phase < s * s; phase++)
                        new Span<float>(dst + phase * phaseStride + (long)h1 * w1, (int)(planeLength - (long)h1 * w1)).Clear();
            }
        });
    }

    /// <summary>dst[j] = buffer[s*j + b] for j &lt; n; the buffer holds at least s*ceil(n/16)*16 floats.</summary>
    private static void Deinterleave(float* buffer, int s, int b, float* dst, int n)
    {
        int j = 0;
        if (Avx512F.IsSupported && (s == 2 || s == 4) && n >= 16)
        {
            // The last vector ends at n, overlapping the one before it.
            for (int next = 0; next < n; next = j + 16)
            {
                j = Math.Min(next, n - 16);
                float* at = buffer + s * j;
                Vector512<float> v;
                if (s == 2)
                    v = Avx512F.PermuteVar16x32x2(Vector512.Load(at), Vector512.CreateSequence(b, 2), Vector512.Load(at + 16));
                else
                {
                    // Lanes 0-7 from each pair of loads, then the two halves joined.
                    var index = Vector512.CreateSequence(b, 4);
                    var lo = Avx512F.PermuteVar16x32x2(Vector512.Load(at), index, Vector512.Load(at + 16));
                    var hi = Avx512F.PermuteVar16x32x2(Vector512.Load(at + 32), index, Vector512.Load(at + 48));
                    v = Avx512F.InsertVector256(lo, hi.GetLower(), 1);
                }
                v.Store(dst + j);
            }
            return;
        }
        for (; j < n; j++) dst[j] = buffer[s * j + b];
    }
}
