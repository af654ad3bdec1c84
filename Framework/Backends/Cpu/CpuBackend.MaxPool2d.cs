using System.Runtime.Intrinsics.X86;
using System.Diagnostics;
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
        if (IsSample(p) && IsF32(x)) SampleForward<float>(x, y, p);
        else if (IsSample(p) && x.DType == DType.Float64) SampleForward<double>(x, y, p);
        else if (IsF32(x)) MaxPool2dForwardKernel<float>(x, y, p);
        else if (x.DType == DType.Float64) MaxPool2dForwardKernel<double>(x, y, p);
        else throw Unsupported("max_pool2d", x);
    }

    public void MaxPool2dBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p)
    {
        if (!dy.SameShape(y) || !dx.SameShape(x))
            throw new ArgumentException($"max_pool2d backward: dy {dy.ShapeString()} must match y {y.ShapeString()} and dx {dx.ShapeString()} x {x.ShapeString()}");
        if (IsSample(p) && IsF32(x)) SampleBackward<float>(dy, dx, p);
        else if (IsSample(p) && x.DType == DType.Float64) SampleBackward<double>(dy, dx, p);
        else if (IsF32(x) && FlatMaxPoolApplies(p)) MaxPool2dBackwardFlat(x, dy, dx, p);
        else if (IsF32(x)) MaxPool2dBackwardKernel<float>(x, y, dy, dx, p);
        else if (x.DType == DType.Float64) MaxPool2dBackwardKernel<double>(x, y, dy, dx, p);
        else throw Unsupported("max_pool2d", x);
    }

    // Note [1x1 pooling]
    // A 1x1 window (always unpadded: padding is at most half the window) is a strided sample: y[i, j] = x[s*i, s*j],
    // and its backward puts dy[i, j] there with zeros elsewhere. The CIFAR ResNets' option-A shortcut is one
    // (pad_shortcut), where the general kernels' window machinery cost 1.8 ms forward and 2.5 ms backward at
    // ResNet-20's first downsampling (batch 128). Same values and routing as the general kernels: the one element
    // of a window is its maximum, NaN included.

    private static bool IsSample(Pool2dParams p) => p.KernelH == 1 && p.KernelW == 1;

    private static unsafe void SampleForward<T>(Tensor x, Tensor y, Pool2dParams p) where T : unmanaged
    {
        int h = x.Size(2), w = x.Size(3), ph = y.Size(2), qw = y.Size(3), sh = p.StrideH, sw = p.StrideW;
        long planes = (long)x.Size(0) * x.Size(1);
        CpuParallel.ForRanges(planes, (int)Math.Min(planes, CpuParallel.ChunkCount(planes * ph * qw, 1 << 15)), (_, first, count) =>
        {
            T* xs = Ptr<T>(x), ys = Ptr<T>(y);
            for (long plane = first; plane < first + count; plane++)
                for (int i = 0; i < ph; i++)
                {
                    T* src = xs + plane * h * w + (long)i * sh * w, dst = ys + plane * ph * qw + (long)i * qw;
                    if (typeof(T) == typeof(float) && Avx2.IsSupported) GatherStrided((float*)src, sw, (float*)dst, 0, qw);
                    else for (int j = 0; j < qw; j++) dst[j] = src[(long)j * sw];
                }
        });
    }

    private static unsafe void SampleBackward<T>(Tensor dy, Tensor dx, Pool2dParams p) where T : unmanaged
    {
        int h = dx.Size(2), w = dx.Size(3), ph = dy.Size(2), qw = dy.Size(3), sh = p.StrideH, sw = p.StrideW;
        long planes = (long)dx.Size(0) * dx.Size(1);
        CpuParallel.ForRanges(planes, (int)Math.Min(planes, CpuParallel.ChunkCount(planes * h * w, 1 << 15)), (_, first, count) =>
        {
            T* dys = Ptr<T>(dy), dxs = Ptr<T>(dx);
            for (long plane = first; plane < first + count; plane++)
            {
                T* d = dxs + plane * h * w;
                new Span<T>(d, h * w).Clear();
                for (int i = 0; i < ph; i++)
                {
                    T* src = dys + plane * ph * qw + (long)i * qw, row = d + (long)i * sh * w;
                    for (int j = 0; j < qw; j++) row[(long)j * sw] = src[j];
                }
            }
        });
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

    // Note [Separable argmax]
    // The first maximum in row-major order is the maximum value with the smallest flat index h * W + w.
    // The vertical pass keeps, per input column, the column's maximum over the window's rows and the
    // flat index of its first occurrence (strictly greater replaces, rows in increasing order). The
    // horizontal pass then takes, per window, the column candidate with the largest value and, among
    // equal values, the smallest flat index: that is the window's first maximum. Padding columns carry
    // -inf and an index past the plane, so a real element always wins a tie with them (a window of
    // -inf routes to its first real element, as the scan does). Columns holding NaN only matter to
    // windows whose y is NaN, which are routed separately.

    /// <summary>
    /// Routes each window's dy to its first maximum in row-major order (strictly greater replaces),
    /// found again from x in two SIMD passes per output row (Note [Separable pooling], Note [Separable
    /// argmax]); a window whose y is NaN (the forward propagates NaN) routes to its first NaN.
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
            int rowLength = s.RowBufferLength, phasesLength = s.PhasesLength;
            var buffer = RentScratch<T>(2 * rowLength + 2 * phasesLength + 2 * s.Q + s.W);
            try
            {
                var span = buffer.AsSpan();
                var row = span.Slice(0, rowLength);                                   // column maxima, padded with -inf
                var rowIndex = span.Slice(rowLength, rowLength);                      // their flat indices, padding past the plane
                var scratch = span.Slice(2 * rowLength, phasesLength);
                var indexScratch = span.Slice(2 * rowLength + phasesLength, phasesLength);
                var best = span.Slice(2 * rowLength + 2 * phasesLength, s.Q);         // running maximum per window
                var index = span.Slice(2 * rowLength + 2 * phasesLength + s.Q, s.Q);  // its flat index in the plane
                var column = span.Slice(2 * rowLength + 2 * phasesLength + 2 * s.Q, s.W);
                for (int w = 0; w < s.W; w++) column[w] = T.CreateTruncating(w);
                row.Fill(T.NegativeInfinity);
                rowIndex.Fill(T.CreateTruncating(s.H * s.W));
                var mid = row.Slice(p.PadW, s.W);
                var midIndex = rowIndex.Slice(p.PadW, s.W);
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
                        // Vertical pass: per column, the maximum over rows [h0, h1) and its first flat index.
                        xp.Slice(h0 * s.W, s.W).CopyTo(mid);
                        TensorPrimitives.Add(column, T.CreateTruncating(h0 * s.W), midIndex);
                        for (int h = h0 + 1; h < h1; h++)
                            ArgMaxStep<T>(xp.Slice(h * s.W, s.W), mid, midIndex, column, T.CreateTruncating(h * s.W));
                        // Horizontal pass over each window's columns.
                        var phases = s.Decimate(row, scratch);
                        var indexPhases = s.Decimate(rowIndex, indexScratch);
                        s.Window(phases, 0).CopyTo(best);
                        s.Window(indexPhases, 0).CopyTo(index);
                        for (int j = 1; j < p.KernelW; j++)
                            ArgMaxTieStep<T>(s.Window(phases, j), s.Window(indexPhases, j), best, index);
                        var yr = yp.Slice(oh * s.Q, s.Q);
                        var dyr = dyp.Slice(oh * s.Q, s.Q);
                        ref T rdx = ref MemoryMarshal.GetReference(dxp);
                        for (int q = 0; q < s.Q; q++)
                        {
                            int at = int.CreateTruncating(index[q]);
                            if (T.IsNaN(yr[q]))
                            {
                                var (w0, w1) = s.Cols(q);
                                at = FirstNaN(xp, s.W, h0, h1, w0, w1);
                            }
                            Debug.Assert((uint)at < (uint)dxp.Length);
                            Unsafe.Add(ref rdx, at) += dyr[q];
                        }
                    }
                }
            }
            finally { ReturnScratch(buffer); }
        });
    }

    /// <summary>Where v &gt; best: best = v and index = column + offset. SIMD with a scalar tail; all spans as long as best.</summary>
    private static void ArgMaxStep<T>(ReadOnlySpan<T> v, Span<T> best, Span<T> index, ReadOnlySpan<T> column, T offset)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T rv = ref MemoryMarshal.GetReference(v);
        ref T rb = ref MemoryMarshal.GetReference(best);
        ref T ri = ref MemoryMarshal.GetReference(index);
        ref T rc = ref MemoryMarshal.GetReference(column);
        nuint i = 0, n = (nuint)best.Length;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            var vo = Vector512.Create(offset);
            for (nuint w = (nuint)Vector512<T>.Count; i + w <= n; i += w)
            {
                var vv = Vector512.LoadUnsafe(ref rv, i);
                var vb = Vector512.LoadUnsafe(ref rb, i);
                var greater = Vector512.GreaterThan(vv, vb);
                Vector512.ConditionalSelect(greater, vv, vb).StoreUnsafe(ref rb, i);
                Vector512.ConditionalSelect(greater, Vector512.LoadUnsafe(ref rc, i) + vo, Vector512.LoadUnsafe(ref ri, i)).StoreUnsafe(ref ri, i);
            }
        }
        var vo256 = Vector256.Create(offset);
        for (nuint w = (nuint)Vector256<T>.Count; i + w <= n; i += w)
        {
            var vv = Vector256.LoadUnsafe(ref rv, i);
            var vb = Vector256.LoadUnsafe(ref rb, i);
            var greater = Vector256.GreaterThan(vv, vb);
            Vector256.ConditionalSelect(greater, vv, vb).StoreUnsafe(ref rb, i);
            Vector256.ConditionalSelect(greater, Vector256.LoadUnsafe(ref rc, i) + vo256, Vector256.LoadUnsafe(ref ri, i)).StoreUnsafe(ref ri, i);
        }
        for (; i < n; i++)
            if (Unsafe.Add(ref rv, i) > Unsafe.Add(ref rb, i))
            {
                Unsafe.Add(ref rb, i) = Unsafe.Add(ref rv, i);
                Unsafe.Add(ref ri, i) = Unsafe.Add(ref rc, i) + offset;
            }
    }

    /// <summary>
    /// Where v &gt; best, or v == best with a smaller index: best = v and index = vIndex (Note [Separable
    /// argmax]). SIMD with a scalar tail; all spans as long as best.
    /// </summary>
    private static void ArgMaxTieStep<T>(ReadOnlySpan<T> v, ReadOnlySpan<T> vIndex, Span<T> best, Span<T> index)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T rv = ref MemoryMarshal.GetReference(v);
        ref T rvi = ref MemoryMarshal.GetReference(vIndex);
        ref T rb = ref MemoryMarshal.GetReference(best);
        ref T ri = ref MemoryMarshal.GetReference(index);
        nuint i = 0, n = (nuint)best.Length;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (nuint w = (nuint)Vector512<T>.Count; i + w <= n; i += w)
            {
                var vv = Vector512.LoadUnsafe(ref rv, i);
                var vb = Vector512.LoadUnsafe(ref rb, i);
                var vvi = Vector512.LoadUnsafe(ref rvi, i);
                var vbi = Vector512.LoadUnsafe(ref ri, i);
                var take = Vector512.GreaterThan(vv, vb) | (Vector512.Equals(vv, vb) & Vector512.LessThan(vvi, vbi));
                Vector512.ConditionalSelect(take, vv, vb).StoreUnsafe(ref rb, i);
                Vector512.ConditionalSelect(take, vvi, vbi).StoreUnsafe(ref ri, i);
            }
        }
        for (nuint w = (nuint)Vector256<T>.Count; i + w <= n; i += w)
        {
            var vv = Vector256.LoadUnsafe(ref rv, i);
            var vb = Vector256.LoadUnsafe(ref rb, i);
            var vvi = Vector256.LoadUnsafe(ref rvi, i);
            var vbi = Vector256.LoadUnsafe(ref ri, i);
            var take = Vector256.GreaterThan(vv, vb) | (Vector256.Equals(vv, vb) & Vector256.LessThan(vvi, vbi));
            Vector256.ConditionalSelect(take, vv, vb).StoreUnsafe(ref rb, i);
            Vector256.ConditionalSelect(take, vvi, vbi).StoreUnsafe(ref ri, i);
        }
        for (; i < n; i++)
        {
            T a = Unsafe.Add(ref rv, i), b = Unsafe.Add(ref rb, i);
            if (a > b || (a == b && Unsafe.Add(ref rvi, i) < Unsafe.Add(ref ri, i)))
            {
                Unsafe.Add(ref rb, i) = a;
                Unsafe.Add(ref ri, i) = Unsafe.Add(ref rvi, i);
            }
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
