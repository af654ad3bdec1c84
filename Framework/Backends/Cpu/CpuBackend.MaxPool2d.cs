using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
            var buffer = RentScratch<T>(s.RowBufferLength + s.PhasesLength);
            try
            {
                var row = buffer.AsSpan(0, s.RowBufferLength);
                var scratch = buffer.AsSpan(s.RowBufferLength, s.PhasesLength);
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
                        var phases = s.Decimate(row, scratch);
                        var yr = yp.Slice(oh * s.Q, s.Q);
                        s.Window(phases, 0).CopyTo(yr);
                        for (int j = 1; j < p.KernelW; j++) TensorPrimitives.Max(yr, s.Window(phases, j), yr);
                    }
                }
            }
            finally { ReturnScratch(buffer); }
        });
    }

    /// <summary>
    /// Routes each window's dy to its first maximum in row-major order (strictly greater replaces),
    /// found again from x: per output row, running maxima and their indices for all Q windows are
    /// updated with SIMD compare-and-select over the window's rows and columns (Note [Separable
    /// pooling]); a window whose y is NaN (the forward propagates NaN) routes to its first NaN.
    /// Indices are carried in T, exact while a plane has fewer than 2^24 elements; larger planes, and
    /// machines without Vector256, take <see cref="MaxPool2dBackwardReference{T}"/>.
    /// </summary>
    private static void MaxPool2dBackwardKernel<T>(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new PoolShape(x, y, p);
        if (!Vector256.IsHardwareAccelerated || !Vector256<T>.IsSupported || (long)s.H * s.W >= 1 << 24)
        {
            MaxPool2dBackwardReference<T>(x, y, dy, dx, p);
            return;
        }
        CpuParallel.ForRanges(s.Planes, s.Chunks, (_, first, count) =>
        {
            var xs = Data<T>(x);
            var ys = Data<T>(y);
            var dys = Data<T>(dy);
            var dxs = Data<T>(dx);
            var buffer = RentScratch<T>(s.RowBufferLength + s.PhasesLength + 3 * s.Q);
            try
            {
                var row = buffer.AsSpan(0, s.RowBufferLength);
                var scratch = buffer.AsSpan(s.RowBufferLength, s.PhasesLength);
                var best = buffer.AsSpan(s.RowBufferLength + s.PhasesLength, s.Q);         // running maximum per window
                var index = buffer.AsSpan(s.RowBufferLength + s.PhasesLength + s.Q, s.Q);  // its index in the plane
                var column = buffer.AsSpan(s.RowBufferLength + s.PhasesLength + 2 * s.Q, s.Q);
                for (int q = 0; q < s.Q; q++) column[q] = T.CreateTruncating(q * p.StrideW); // window q's first row-buffer column
                row.Fill(T.NegativeInfinity); // padding never wins
                var mid = row.Slice(p.PadW, s.W);
                for (long plane = first; plane < first + count; plane++)
                {
                    var xp = xs.Slice((int)(plane * s.H * s.W), s.H * s.W);     // x: (H, W)
                    var dxp = dxs.Slice((int)(plane * s.H * s.W), s.H * s.W);   // dx: (H, W)
                    var yp = ys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);     // y: (P, Q)
                    var dyp = dys.Slice((int)(plane * s.P * s.Q), s.P * s.Q);   // dy: (P, Q)
                    dxp.Clear();
                    for (int oh = 0; oh < s.P; oh++)
                    {
                        var (h0, h1) = s.Rows(oh);
                        // Start from -inf at the window's first real element: if every element is -inf, that one is the first maximum.
                        best.Fill(T.NegativeInfinity);
                        for (int q = 0; q < s.Q; q++) index[q] = T.CreateTruncating(h0 * s.W + s.Cols(q).W0);
                        for (int h = h0; h < h1; h++)
                        {
                            xp.Slice(h * s.W, s.W).CopyTo(mid);
                            var phases = s.Decimate(row, scratch);
                            for (int j = 0; j < p.KernelW; j++)
                                ArgMaxStep<T>(s.Window(phases, j), best, index, column, T.CreateTruncating(h * s.W + j - p.PadW));
                        }
                        var yr = yp.Slice(oh * s.Q, s.Q);
                        var dyr = dyp.Slice(oh * s.Q, s.Q);
                        for (int q = 0; q < s.Q; q++)
                        {
                            int at = int.CreateTruncating(index[q]);
                            if (T.IsNaN(yr[q]))
                            {
                                var (w0, w1) = s.Cols(q);
                                at = FirstNaN(xp, s.W, h0, h1, w0, w1);
                            }
                            dxp[at] += dyr[q];
                        }
                    }
                }
            }
            finally { ReturnScratch(buffer); }
        });
    }

    /// <summary>Where v &gt; best: best = v and index = column + offset. SIMD with a scalar tail; all spans Q long.</summary>
    private static void ArgMaxStep<T>(ReadOnlySpan<T> v, Span<T> best, Span<T> index, ReadOnlySpan<T> column, T offset)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T rv = ref MemoryMarshal.GetReference(v);
        ref T rb = ref MemoryMarshal.GetReference(best);
        ref T ri = ref MemoryMarshal.GetReference(index);
        ref T rc = ref MemoryMarshal.GetReference(column);
        nuint i = 0, n = (nuint)best.Length, w = (nuint)Vector256<T>.Count;
        var vo = Vector256.Create(offset);
        for (; i + w <= n; i += w)
        {
            var vv = Vector256.LoadUnsafe(ref rv, i);
            var vb = Vector256.LoadUnsafe(ref rb, i);
            var greater = Vector256.GreaterThan(vv, vb);
            Vector256.ConditionalSelect(greater, vv, vb).StoreUnsafe(ref rb, i);
            Vector256.ConditionalSelect(greater, Vector256.LoadUnsafe(ref rc, i) + vo, Vector256.LoadUnsafe(ref ri, i)).StoreUnsafe(ref ri, i);
        }
        for (; i < n; i++)
            if (Unsafe.Add(ref rv, i) > Unsafe.Add(ref rb, i))
            {
                Unsafe.Add(ref rb, i) = Unsafe.Add(ref rv, i);
                Unsafe.Add(ref ri, i) = Unsafe.Add(ref rc, i) + offset;
            }
    }

    /// <summary>
    /// The plain form of the max-pool backward, for reference and for the cases the SIMD kernel
    /// does not take: scans every window in row-major order for its first maximum (first NaN if any).
    /// </summary>
    internal static void MaxPool2dBackwardReference<T>(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p) where T : unmanaged, IFloatingPointIeee754<T>
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
                        int at = FirstNaN(xp, s.W, h0, h1, w0, w1);
                        if (at < 0)
                        {
                            at = h0 * s.W + w0;
                            for (int h = h0; h < h1; h++)
                                for (int i = h * s.W + w0; i < h * s.W + w1; i++)
                                    if (xp[i] > xp[at]) at = i;
                        }
                        dxp[at] += dyp[oh * s.Q + ow];
                    }
                }
            }
        });
    }

    /// <summary>Index of the first NaN of the window rows [h0, h1) x columns [w0, w1) of a (H, width) plane, or -1.</summary>
    private static int FirstNaN<T>(ReadOnlySpan<T> plane, int width, int h0, int h1, int w0, int w1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int h = h0; h < h1; h++)
            for (int i = h * width + w0; i < h * width + w1; i++)
                if (T.IsNaN(plane[i])) return i;
        return -1;
    }
}
