namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MaxoutForward(Tensor x, Tensor y, int outer, int channels, int inner, int groupSize)
    {
        if (IsF32(x)) MaxoutKernel(Data<float>(x), Data<float>(y), default, outer, channels, inner, groupSize, false);
        else if (x.DType == DType.Float64) MaxoutKernel(Data<double>(x), Data<double>(y), default, outer, channels, inner, groupSize, false);
        else throw Unsupported("maxout", x);
    }

    public void MaxoutBackward(Tensor x, Tensor dy, Tensor dx, int outer, int channels, int inner, int groupSize)
    {
        if (IsF32(x)) MaxoutKernel(Data<float>(x), Data<float>(dy), Data<float>(dx), outer, channels, inner, groupSize, true);
        else if (x.DType == DType.Float64) MaxoutKernel(Data<double>(x), Data<double>(dy), Data<double>(dx), outer, channels, inner, groupSize, true);
        else throw Unsupported("maxout", x);
    }

    /// <summary>Forward writes the group maxima into <paramref name="yOrDy"/>; backward routes dy to the first maximum.</summary>
    private static unsafe void MaxoutKernel<T>(Span<T> x, Span<T> yOrDy, Span<T> dx, int outer, int channels, int inner, int p, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int groups = channels / p;
        if (backward) dx.Clear();
        fixed (T* px = x, py = yOrDy, pdx = dx)
        {
            nint ix = (nint)px, iy = (nint)py, idx = (nint)pdx;
            // Each outer index (image or row) reads and writes its own slices: coarse, disjoint chunks.
            CpuParallel.ForRanges(outer, CpuParallel.ChunkCount((long)outer * channels * inner, 1 << 14), (_, start, len) =>
            {
                T* xs = (T*)ix, ys = (T*)iy, dxs = (T*)idx;
                for (long o = start; o < start + len; o++)
                    for (int g = 0; g < groups; g++)
                        for (int i = 0; i < inner; i++)
                        {
                            long first = (o * channels + g * p) * inner + i;
                            long best = first;
                            for (int k = 1; k < p; k++)
                            {
                                long j = first + k * inner;
                                if (xs[j] > xs[best]) best = j;
                            }
                            long outIndex = (o * groups + g) * inner + i;
                            if (backward) dxs[best] = ys[outIndex];
                            else ys[outIndex] = xs[best];
                        }
            });
        }
    }

    public void L2NormalizeForward(Tensor x, Tensor y, int outer, int channels, int inner, double eps)
    {
        if (IsF32(x)) ForRows(outer, inner, channels, (o, i) => L2Row(Data<float>(x), Data<float>(y), default, default, o, channels, inner, i, eps));
        else if (x.DType == DType.Float64) ForRows(outer, inner, channels, (o, i) => L2Row(Data<double>(x), Data<double>(y), default, default, o, channels, inner, i, eps));
        else throw Unsupported("l2_normalize", x);
    }

    public void L2NormalizeBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, double eps)
    {
        if (IsF32(x)) ForRows(outer, inner, channels, (o, i) => L2Row(Data<float>(x), Data<float>(y), Data<float>(dy), Data<float>(dx), o, channels, inner, i, eps));
        else if (x.DType == DType.Float64) ForRows(outer, inner, channels, (o, i) => L2Row(Data<double>(x), Data<double>(y), Data<double>(dy), Data<double>(dx), o, channels, inner, i, eps));
        else throw Unsupported("l2_normalize", x);
    }

    /// <summary>Forward when dx is empty; otherwise backward.</summary>
    private static void L2Row<T>(Span<T> x, Span<T> y, Span<T> dy, Span<T> dx, int o, int c, int inner, int i, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int b = o * c * inner + i;
        double ss = 0;
        for (int k = 0; k < c; k++)
        {
            double v = double.CreateTruncating(x[b + k * inner]);
            ss += v * v;
        }
        double norm = Math.Sqrt(ss);
        if (dx.IsEmpty)
        {
            T inv = T.CreateTruncating(1.0 / Math.Max(norm, eps));
            for (int k = 0; k < c; k++) y[b + k * inner] = x[b + k * inner] * inv;
            return;
        }
        if (norm <= eps)
        {
            T inv = T.CreateTruncating(1.0 / eps);
            for (int k = 0; k < c; k++) dx[b + k * inner] = dy[b + k * inner] * inv;
            return;
        }
        double dot = 0;
        for (int k = 0; k < c; k++) dot += double.CreateTruncating(dy[b + k * inner] * y[b + k * inner]);
        T tdot = T.CreateTruncating(dot), tinv = T.CreateTruncating(1.0 / norm);
        for (int k = 0; k < c; k++)
        {
            int j = b + k * inner;
            dx[j] = (dy[j] - y[j] * tdot) * tinv;
        }
    }
}
