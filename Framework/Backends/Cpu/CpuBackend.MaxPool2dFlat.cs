using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Note [Flat max-pool backward]: stride-1 max pooling (GoogLeNet's 3x3/1 pad-1 pool in every inception block) on the
/// flat layout of Note [Flat direct convolution], padded with -inf. The separable backward works row by row and, on
/// 7x7-28x28 planes, spends its time on per-row overhead (measured: 4.4-5.4 ms per GoogLeNet pool at batch 8, three
/// times the forward). Here 16 consecutive outputs o take their window's first maximum over the taps in row-major
/// order (strictly greater replaces, the first NaN wins and stays), then each tap adds dy to dx[o + off(tap)] for
/// the lanes it won: for stride 1, one tap's 16 targets are distinct, so a vector add per tap is exact, and taps
/// run in a fixed order (so a dx element that several windows pick sums them in another order than the reference:
/// rounding may differ, the routing does not). Same routing as the reference, tie for tie, with one exception handled apart: a window
/// whose real elements are all -inf would route to the -inf padding first in its scan, so lanes whose maximum is
/// -inf take the reference's rule instead (the window's first real element).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    private static bool FlatMaxPoolApplies(Pool2dParams p) =>
        Avx512F.IsSupported && p.StrideH == 1 && p.StrideW == 1 && p.PadH < p.KernelH && p.PadW < p.KernelW;

    private static void MaxPool2dBackwardFlat(Tensor x, Tensor dy, Tensor dx, Pool2dParams p)
    {
        int planes = x.Size(0) * x.Size(1), h = x.Size(2), w = x.Size(3), outH = dy.Size(2), outW = dy.Size(3);
        int wp = w + p.PadW, hp = h + 2 * p.PadH;   // side padding shared between rows
        int taps = p.KernelH * p.KernelW;
        var offsets = new int[taps];
        for (int r = 0; r < p.KernelH; r++)
            for (int c = 0; c < p.KernelW; c++) offsets[r * p.KernelW + c] = r * wp + c;
        int vectors = (outH * wp + 15) / 16;
        long dyPlane = (long)vectors * 16;
        long plane = (Math.Max((long)hp * wp + p.PadW, dyPlane + offsets[taps - 1]) + 15) & ~15L;
        nint bx = (nint)Ptr<float>(x), bdy = (nint)Ptr<float>(dy), bdx = (nint)Ptr<float>(dx);
        int chunks = (int)Math.Min(planes, CpuParallel.ChunkCount((long)planes * plane, 1 << 15));
        using var scratch = new RangeScratch(chunks, 2 * plane + dyPlane);
        CpuParallel.ForRanges(planes, chunks, (chunk, start, len) =>
        {
            float* xf = scratch[chunk], dxf = xf + plane, dyf = dxf + plane;
            fixed (int* off = offsets)
                for (long i = start; i < start + len; i++)
                {
                    float* dxp = (float*)bdx + i * h * w;
                    PadPlane((float*)bx + i * h * w, h, w, p.PadH, p.PadW, wp, plane, float.NegativeInfinity, xf);
                    PadPlane((float*)bdy + i * outH * outW, outH, outW, 0, 0, wp, dyPlane, 0f, dyf);
                    new Span<float>(dxf, (int)plane).Clear();
                    for (int v = 0; v < vectors; v++)
                        RouteFlatBlock(xf, dyf, dxf, v * 16, off, taps, p, wp, outH, outW);
                    for (int row = 0; row < h; row++)
                        CopyRow(dxf + (long)(row + p.PadH) * wp + p.PadW, dxp + (long)row * w, w);
                }
        });
    }

    /// <summary>Routes dy of the 16 flat outputs starting at o to their windows' first maxima (Note [Flat max-pool backward]).</summary>
    private static void RouteFlatBlock(float* xf, float* dyf, float* dxf, int o, int* off, int taps, Pool2dParams p, int wp, int outH, int outW)
    {
        var best = Vector512.Load(xf + o + off[0]);
        var bestTap = Vector512<int>.Zero;
        for (int t = 1; t < taps; t++)
        {
            var v = Vector512.Load(xf + o + off[t]);
            var wins = Vector512.GreaterThan(v, best) | (~Vector512.Equals(v, v) & Vector512.Equals(best, best));
            best = Vector512.ConditionalSelect(wins, v, best);
            bestTap = Vector512.ConditionalSelect(wins.AsInt32(), Vector512.Create(t), bestTap);
        }
        var d = Vector512.Load(dyf + o);
        var allNegInf = Vector512.Equals(best, Vector512.Create(float.NegativeInfinity));
        uint lanes = (uint)allNegInf.ExtractMostSignificantBits();
        if (lanes != 0)
        {
            // The reference's rule for these lanes: the window's first real element (all of them are -inf).
            d = Vector512.ConditionalSelect(allNegInf, Vector512<float>.Zero, d);
            for (; lanes != 0; lanes &= lanes - 1)
            {
                int at = o + System.Numerics.BitOperations.TrailingZeroCount(lanes);
                int oh = at / wp, ow = at % wp;
                if (oh >= outH || ow >= outW) continue;   // a thrown-away position: its dy is 0
                int h0 = Math.Max(oh - p.PadH, 0), w0 = Math.Max(ow - p.PadW, 0);
                dxf[(long)(h0 + p.PadH) * wp + p.PadW + w0] += dyf[at];
            }
        }
        for (int t = 0; t < taps; t++)
        {
            var mine = Vector512.Equals(bestTap, Vector512.Create(t)).AsSingle();
            float* target = dxf + o + off[t];
            (Vector512.Load(target) + (d & mine)).Store(target);
        }
    }
}
