using System.Numerics.Tensors;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void AvgPool2dForward(Tensor x, Tensor y, Pool2dParams p)
    {
        if (IsF32(x)) AvgPool2dForwardKernel<float>(x, y, p);
        else if (x.DType == DType.Float64) AvgPool2dForwardKernel<double>(x, y, p);
        else throw Unsupported("avg_pool2d", x);
    }

    public void AvgPool2dBackward(Tensor dy, Tensor dx, Pool2dParams p)
    {
        if (IsF32(dx)) AvgPool2dBackwardKernel<float>(dy, dx, p);
        else if (dx.DType == DType.Float64) AvgPool2dBackwardKernel<double>(dy, dx, p);
        else throw Unsupported("avg_pool2d", dx);
    }

    /// <summary>
    /// Reciprocal divisor factors: 1 / rows(oh) for each output row and 1 / cols(ow) for each output
    /// column (the divisor is their product). With count_include_pad the window is clipped to the
    /// padded input (end = min(start + kernel, size + pad)), else to the input itself.
    /// </summary>
    private static void AvgPoolReciprocals<T>(int size, int kernel, int stride, int pad, bool includePad, Span<T> inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < inverse.Length; o++)
        {
            int start = o * stride - pad;
            int count = includePad
                ? Math.Min(start + kernel, size + pad) - start
                : Math.Min(start + kernel, size) - Math.Max(start, 0);
            inverse[o] = T.One / T.CreateTruncating(count);
        }
    }

    /// <summary>
    /// One window covering the whole unpadded plane (global average pooling): a plane sum and a fill. The separable path
    /// spent about 0.4 ms each way on ResNet-20's 8192 planes of 8x8 (2026-11-26).
    /// </summary>
    private static bool WholePlane(in PoolShape s, Pool2dParams p) =>
        s.P == 1 && s.Q == 1 && p.KernelH == s.H && p.KernelW == s.W && p.PadH == 0 && p.PadW == 0;

    /// <summary>See Note [Separable pooling]: vertical sum of the window's rows, horizontal sum, then the divisor.</summary>
    private static void AvgPool2dForwardKernel<T>(Tensor x, Tensor y, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new PoolShape(x, y, p);
        if (WholePlane(s, p))
        {
            T scale = T.One / T.CreateTruncating(s.H) * (T.One / T.CreateTruncating(s.W));   // the divisor as the general path forms it
            int hw = s.H * s.W;
            CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
            {
                var xs = Data<T>(x);
                var ys = Data<T>(y);
                for (long plane = first; plane < first + count; plane++)
                    ys[(int)plane] = TensorPrimitives.Sum<T>(xs.Slice((int)(plane * hw), hw)) * scale;
            });
            return;
        }
        var inverse = RentScratch<T>(s.P + s.Q); // 1/rows (P), then 1/cols (Q); read-only below
        try
        {
            AvgPoolReciprocals(s.H, p.KernelH, p.StrideH, p.PadH, p.CountIncludePad, inverse.AsSpan(0, s.P));
            AvgPoolReciprocals(s.W, p.KernelW, p.StrideW, p.PadW, p.CountIncludePad, inverse.AsSpan(s.P, s.Q));
            CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
            {
                var xs = Data<T>(x);
                var ys = Data<T>(y);
                var rowInverse = inverse.AsSpan(0, s.P);
                var colInverse = inverse.AsSpan(s.P, s.Q);
                var buffer = RentScratch<T>(s.RowBufferLength + s.PhasesLength);
                try
                {
                    var row = buffer.AsSpan(0, s.RowBufferLength);
                    var scratch = buffer.AsSpan(s.RowBufferLength, s.PhasesLength);
                    row.Clear(); // the padding columns stay 0
                    var mid = row.Slice(p.PadW, s.W);
                    for (long plane = first; plane < first + count; plane++)
                    {
                        var xp = xs.Slice((int)(plane * s.H * s.W), s.H * s.W);  // x: (H, W)
                        var yp = ys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);  // y: (P, Q)
                        for (int oh = 0; oh < s.P; oh++)
                        {
                            var (h0, h1) = s.Rows(oh);
                            xp.Slice(h0 * s.W, s.W).CopyTo(mid);
                            for (int h = h0 + 1; h < h1; h++) TensorPrimitives.Add(mid, xp.Slice(h * s.W, s.W), mid);
                            var phases = s.Decimate(row, scratch);
                            var yr = yp.Slice(oh * s.Q, s.Q);
                            s.Window(phases, 0).CopyTo(yr);
                            for (int j = 1; j < p.KernelW; j++) TensorPrimitives.Add(yr, s.Window(phases, j), yr);
                            TensorPrimitives.Multiply(yr, colInverse, yr);
                            TensorPrimitives.Multiply(yr, rowInverse[oh], yr);
                        }
                    }
                }
                finally { ReturnScratch(buffer); }
            });
        }
        finally { ReturnScratch(inverse); }
    }

    /// <summary>
    /// The transpose of the forward: each output row's dy / divisor is scattered into the phases of a
    /// padded row buffer (one SIMD add per window column), the phases are interleaved back into the
    /// row, and the row is added to every input row of the window.
    /// </summary>
    private static void AvgPool2dBackwardKernel<T>(Tensor dy, Tensor dx, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new PoolShape(dx, dy, p);
        if (WholePlane(s, p))
        {
            T scale = T.One / T.CreateTruncating(s.H) * (T.One / T.CreateTruncating(s.W));
            int hw = s.H * s.W;
            CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
            {
                var dys = Data<T>(dy);
                var dxs = Data<T>(dx);
                for (long plane = first; plane < first + count; plane++)
                    dxs.Slice((int)(plane * hw), hw).Fill(dys[(int)plane] * scale);
            });
            return;
        }
        var inverse = RentScratch<T>(s.P + s.Q);
        try
        {
            AvgPoolReciprocals(s.H, p.KernelH, p.StrideH, p.PadH, p.CountIncludePad, inverse.AsSpan(0, s.P));
            AvgPoolReciprocals(s.W, p.KernelW, p.StrideW, p.PadW, p.CountIncludePad, inverse.AsSpan(s.P, s.Q));
            CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
            {
                var dys = Data<T>(dy);
                var dxs = Data<T>(dx);
                var rowInverse = inverse.AsSpan(0, s.P);
                var colInverse = inverse.AsSpan(s.P, s.Q);
                var buffer = RentScratch<T>(s.RowBufferLength + s.PhasesLength + s.Q);
                try
                {
                    var row = buffer.AsSpan(0, s.RowBufferLength);
                    var phases = s.PhasesLength == 0 ? row : buffer.AsSpan(s.RowBufferLength, s.PhasesLength);
                    var mid = row.Slice(p.PadW, s.W);
                    var g = buffer.AsSpan(s.RowBufferLength + s.PhasesLength, s.Q);
                    for (long plane = first; plane < first + count; plane++)
                    {
                        var dxp = dxs.Slice((int)(plane * s.H * s.W), s.H * s.W);  // dx: (H, W)
                        var dyp = dys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);  // dy: (P, Q)
                        dxp.Clear();
                        for (int oh = 0; oh < s.P; oh++)
                        {
                            TensorPrimitives.Multiply(dyp.Slice(oh * s.Q, s.Q), colInverse, g);
                            TensorPrimitives.Multiply(g, rowInverse[oh], g);
                            phases.Clear();
                            for (int j = 0; j < p.KernelW; j++) TensorPrimitives.Add(s.Window(phases, j), g, s.Window(phases, j));
                            s.Interleave(phases, row);
                            var (h0, h1) = s.Rows(oh);
                            for (int h = h0; h < h1; h++) TensorPrimitives.Add(dxp.Slice(h * s.W, s.W), mid, dxp.Slice(h * s.W, s.W));
                        }
                    }
                }
                finally { ReturnScratch(buffer); }
            });
        }
        finally { ReturnScratch(inverse); }
    }
}
