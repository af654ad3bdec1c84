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
/// path the weight gradient does not compute them at all: its register block takes any 9 (channel, tap) pairs, so the
/// 121 real taps of AlexNet's stem fill 14 blocks instead of 16 (2026-11-26, batch 16, 2 threads: 21.6 -> 18.7-19.1 ms).
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
            SplitPhases(g, g1, x, xs);
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
        float* xs = (float*)RentScratch<float>((long)g1.N * g1.C * g1.HW, out long xBytes);
        float* dws = (float*)RentScratch<float>((long)g1.K * g1.Crs, out long wBytes);
        try
        {
            SplitPhases(g, g1, x, xs);
            // The direct path skips the zero taps (11x11/4: 121 of the phases' 144), the others compute and drop them.
            var geometry = g;
            int geometry1S = g1.S;
            if (PathFor(g1, weights: true) == ConvPathKind.Direct)
                DirectBackwardWeights(g1, xs, dy, dws, (c1, tap) =>
                {
                    var (_, r, t) = PhaseTap(geometry, c1, tap / geometry1S, tap % geometry1S);
                    return r < geometry.R && t < geometry.S;
                });
            else BackwardWeightsF32(g1, xs, dy, dws);
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
            ReturnScratch(xs, xBytes);
        }
    }

    /// <summary>The original channel and filter tap of phase channel c1 = (a*s + b)*C + c and phase tap (r1, t1).</summary>
    private static (int C, int R, int T) PhaseTap(in ConvGeometry g, int c1, int r1, int t1)
    {
        int s = g.StrideH, phase = c1 / g.C;
        return (c1 % g.C, s * r1 + phase / s, s * t1 + phase % s);
    }

    /// <summary>x (N, C, H, W) -> x' (N, s*s*C, H', W') with x'[n, (a*s + b)*C + c, i, j] = x[n, c, s*i + a - padH, s*j + b - padW], zero outside.</summary>
    private static void SplitPhases(in ConvGeometry g, in ConvGeometry g1, float* x, float* xs)
    {
        int s = g.StrideH, c = g.C, h = g.H, w = g.W, padH = g.PadH, padW = g.PadW, h1 = g1.H, w1 = g1.W, c1s = g1.C;
        int planes = g1.N * g1.C;
        nint px = (nint)x, pxs = (nint)xs;
        CpuParallel.ForRanges(planes, Math.Min(planes, CpuParallel.ChunkCount((long)planes * h1 * w1, 1 << 15)), (_, start, len) =>
        {
            for (long plane = start; plane < start + len; plane++)
            {
                int n = (int)(plane / c1s), c1 = (int)(plane % c1s), phase = c1 / c, ch = c1 % c, a = phase / s, b = phase % s;
                float* src = (float*)px + ((long)n * c + ch) * h * w;
                float* dst = (float*)pxs + plane * h1 * w1;
                var (jLo, jHi) = ValidRange(b - padW, w, s, w1);   // columns j whose source s*j + b - padW lies in [0, w)
                for (int i = 0; i < h1; i++)
                {
                    float* d = dst + (long)i * w1;
                    int row = s * i + a - padH;
                    if ((uint)row >= (uint)h)
                    {
                        new Span<float>(d, w1).Clear();
                        continue;
                    }
                    float* sr = src + (long)row * w + b - padW;   // sr[s*j] for j in [jLo, jHi)
                    for (int j = 0; j < jLo; j++) d[j] = 0f;
                    GatherStrided(sr, s, d, jLo, jHi);
                    for (int j = Math.Max(jHi, jLo); j < w1; j++) d[j] = 0f;
                }
            }
        });
    }
}
