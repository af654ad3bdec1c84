using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Chunk size of reductions: fixed, so the summation order does not depend on the thread count.</summary>
    private const int ReduceChunk = 1 << 14;

    public void Sum(Tensor x, Tensor y)
    {
        if (IsF32(x)) Data<float>(y)[0] = (float)SumKernel(Data<float>(x));
        else if (x.DType == DType.Float64) Data<double>(y)[0] = SumKernel(Data<double>(x));
        else throw Unsupported("sum", x);
    }

    public void FillFromScalar(Tensor scalar, double alpha, Tensor dst)
    {
        if (IsF32(dst)) Data<float>(dst).Fill((float)(alpha * Data<float>(scalar)[0]));
        else if (dst.DType == DType.Float64) Data<double>(dst).Fill(alpha * Data<double>(scalar)[0]);
        else throw Unsupported("fill", dst);
    }

    /// <summary>Sums in fixed chunks (SIMD inside a chunk), then adds the chunk sums in order in double.</summary>
    internal static unsafe double SumKernel<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = (x.Length + ReduceChunk - 1) / ReduceChunk;
        if (chunks <= 1) return double.CreateTruncating(TensorPrimitives.Sum<T>(x));
        var partial = new double[chunks];
        fixed (T* p = x)
        {
            nint ip = (nint)p;
            int n = x.Length;
            CpuParallel.For(chunks, c =>
            {
                int start = c * ReduceChunk, len = Math.Min(ReduceChunk, n - start);
                partial[c] = double.CreateTruncating(TensorPrimitives.Sum<T>(new ReadOnlySpan<T>((T*)ip + start, len)));
            });
        }
        double s = 0;
        foreach (double v in partial) s += v;
        return s;
    }
}
