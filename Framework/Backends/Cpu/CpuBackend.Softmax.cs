using System.Buffers;
using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void SoftmaxForward(Tensor x, Tensor y, int outer, int channels, int inner, bool log)
    {
        if (IsF32(x)) ForRows(outer, inner, channels, (o, i) => SoftmaxRow(Data<float>(x), Data<float>(y), o, channels, inner, i, log));
        else if (x.DType == DType.Float64) ForRows(outer, inner, channels, (o, i) => SoftmaxRow(Data<double>(x), Data<double>(y), o, channels, inner, i, log));
        else throw Unsupported("softmax", x);
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, bool log)
    {
        if (IsF32(y)) ForRows(outer, inner, channels, (o, i) => SoftmaxBackwardRow(Data<float>(y), Data<float>(dy), Data<float>(dx), o, channels, inner, i, log));
        else if (y.DType == DType.Float64) ForRows(outer, inner, channels, (o, i) => SoftmaxBackwardRow(Data<double>(y), Data<double>(dy), Data<double>(dx), o, channels, inner, i, log));
        else throw Unsupported("softmax", y);
    }

    /// <summary>Runs body(outerIndex, innerIndex) for every row of an (outer, C, inner) view, in coarse parallel chunks.</summary>
    internal static void ForRows(int outer, int inner, int channels, Action<int, int> body)
    {
        long rows = (long)outer * inner;
        int chunks = CpuParallel.ChunkCount(rows * channels, 1 << 14);
        CpuParallel.ForRanges(rows, chunks, (_, start, len) =>
        {
            for (long r = start; r < start + len; r++) body((int)(r / inner), (int)(r % inner));
        });
    }

    private static void SoftmaxRow<T>(Span<T> x, Span<T> y, int o, int c, int inner, int i, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int baseIndex = o * c * inner + i;
        if (inner == 1)
        {
            var xr = x.Slice(baseIndex, c);
            var yr = y.Slice(baseIndex, c);
            T max = TensorPrimitives.Max<T>(xr);
            TensorPrimitives.Subtract(xr, max, yr);
            if (log)
            {
                // y holds x − max; exp it into scratch to get the log-sum-exp.
                var scratch = ArrayPool<T>.Shared.Rent(c);
                try
                {
                    var e = scratch.AsSpan(0, c);
                    TensorPrimitives.Exp<T>(yr, e);
                    TensorPrimitives.Subtract(yr, T.Log(TensorPrimitives.Sum<T>(e)), yr);
                }
                finally { ArrayPool<T>.Shared.Return(scratch); }
            }
            else
            {
                TensorPrimitives.Exp<T>(yr, yr);
                TensorPrimitives.Divide(yr, TensorPrimitives.Sum<T>(yr), yr);
            }
            return;
        }
        T m = T.NegativeInfinity;
        for (int k = 0; k < c; k++) m = T.Max(m, x[baseIndex + k * inner]);
        T sum = T.Zero;
        for (int k = 0; k < c; k++) sum += T.Exp(x[baseIndex + k * inner] - m);
        T logSum = T.Log(sum);
        for (int k = 0; k < c; k++)
        {
            T v = x[baseIndex + k * inner] - m;
            y[baseIndex + k * inner] = log ? v - logSum : T.Exp(v) / sum;
        }
    }

    private static void SoftmaxBackwardRow<T>(Span<T> y, Span<T> dy, Span<T> dx, int o, int c, int inner, int i, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int b = o * c * inner + i;
        T s = T.Zero;
        for (int k = 0; k < c; k++) s += log ? dy[b + k * inner] : dy[b + k * inner] * y[b + k * inner];
        for (int k = 0; k < c; k++)
        {
            int j = b + k * inner;
            dx[j] = log ? dy[j] - T.Exp(y[j]) * s : y[j] * (dy[j] - s);
        }
    }
}
