using System.Numerics.Tensors;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MaxPool2dForward(Tensor x, Tensor y, Pool2dParams p)
    {
        if (IsF32(x)) MaxPool2dForwardKernel<float>(x, y, p);
        else if (x.DType == DType.Float64) MaxPool2dForwardKernel<double>(x, y, p);
        else throw Unsupported("max_pool2d", x);
    }

    public void MaxPool2dBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p)
    {
        if (!dy.SameShape(y) || !dx.SameShape(x))
            throw new ArgumentException($"max_pool2d backward: dy {dy.ShapeString()} must match y {y.ShapeString()} and dx {dx.ShapeString()} x {x.ShapeString()}");
        if (IsF32(x)) MaxPool2dBackwardKernel<float>(x, y, dy, dx, p);
        else if (x.DType == DType.Float64) MaxPool2dBackwardKernel<double>(x, y, dy, dx, p);
        else throw Unsupported("max_pool2d", x);
    }

    /// <summary>See Note [Separable pooling]: vertical max of the window's rows, then horizontal max.</summary>
    private static void MaxPool2dForwardKernel<T>(Tensor x, Tensor y, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new PoolShape(x, y, p);
        CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
        {
            var xs = Data<T>(x);
            var ys = Data<T>(y);
            var buffer = RentScratch<T>(s.RowBufferLength);
            try
            {
                var row = buffer.AsSpan(0, s.RowBufferLength);
                row.Fill(T.NegativeInfinity); // the padding columns stay -inf
                var mid = row.Slice(p.PadW, s.W);
                for (long plane = first; plane < first + count; plane++)
                {
                    var xp = xs.Slice((int)(plane * s.H * s.W), s.H * s.W);  // x: (H, W)
                    var yp = ys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);  // y: (P, Q)
                    for (int oh = 0; oh < s.P; oh++)
                    {
                        var (h0, h1) = s.Rows(oh);
                        xp.Slice(h0 * s.W, s.W).CopyTo(mid);
                        for (int h = h0 + 1; h < h1; h++) TensorPrimitives.Max(mid, xp.Slice(h * s.W, s.W), mid);
                        var yr = yp.Slice(oh * s.Q, s.Q);
                        if (p.StrideW == 1)
                        {
                            row[..s.Q].CopyTo(yr);
                            for (int j = 1; j < p.KernelW; j++) TensorPrimitives.Max(yr, row.Slice(j, s.Q), yr);
                        }
                        else
                        {
                            for (int q = 0; q < s.Q; q++)
                            {
                                var window = row.Slice(q * p.StrideW, p.KernelW);
                                T m = window[0];
                                for (int j = 1; j < window.Length; j++) m = T.Max(m, window[j]);
                                yr[q] = m;
                            }
                        }
                    }
                }
            }
            finally { ReturnScratch(buffer); }
        });
    }

    /// <summary>Recomputes each window's first maximum (row-major; a NaN wins, as it did in the forward) and routes dy there.</summary>
    private static void MaxPool2dBackwardKernel<T>(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new PoolShape(x, y, p);
        CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
        {
            var xs = Data<T>(x);
            var dys = Data<T>(dy);
            var dxs = Data<T>(dx);
            for (long plane = first; plane < first + count; plane++)
            {
                var xp = xs.Slice((int)(plane * s.H * s.W), s.H * s.W);     // x: (H, W)
                var dxp = dxs.Slice((int)(plane * s.H * s.W), s.H * s.W);   // dx: (H, W)
                var dyp = dys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);   // dy: (P, Q)
                dxp.Clear();
                for (int oh = 0; oh < s.P; oh++)
                {
                    var (h0, h1) = s.Rows(oh);
                    for (int ow = 0; ow < s.Q; ow++)
                    {
                        var (w0, w1) = s.Cols(ow);
                        int best = h0 * s.W + w0;
                        T m = xp[best];
                        for (int h = h0; h < h1 && !T.IsNaN(m); h++)
                        {
                            var xr = xp.Slice(h * s.W, s.W);
                            for (int w = w0; w < w1; w++)
                            {
                                T v = xr[w];
                                if (v > m || T.IsNaN(v))
                                {
                                    m = v;
                                    best = h * s.W + w;
                                    if (T.IsNaN(v)) break;
                                }
                            }
                        }
                        dxp[best] += dyp[oh * s.Q + ow];
                    }
                }
            }
        });
    }
}
