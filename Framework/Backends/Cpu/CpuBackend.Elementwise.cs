using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Below this many elements an elementwise op runs on one thread (a parallel region costs ~10 us).</summary>
    internal const int ParallelThreshold = 1 << 16;

    public void Add(Tensor a, Tensor b, Tensor y)
    {
        if (IsF32(y)) Binary<float>(Data<float>(a), Data<float>(b), Data<float>(y), TensorPrimitives.Add);
        else if (y.DType == DType.Float64) Binary<double>(Data<double>(a), Data<double>(b), Data<double>(y), TensorPrimitives.Add);
        else throw Unsupported("add", y);
    }

    public void AddInPlace(Tensor acc, Tensor x)
    {
        if (IsF32(acc)) Binary<float>(Data<float>(acc), Data<float>(x), Data<float>(acc), TensorPrimitives.Add);
        else if (acc.DType == DType.Float64) Binary<double>(Data<double>(acc), Data<double>(x), Data<double>(acc), TensorPrimitives.Add);
        else throw Unsupported("add", acc);
    }

    public void Scale(Tensor x, double alpha, Tensor y)
    {
        if (IsF32(y)) ScaleKernel(Data<float>(x), (float)alpha, Data<float>(y));
        else if (y.DType == DType.Float64) ScaleKernel(Data<double>(x), alpha, Data<double>(y));
        else throw Unsupported("scale", y);
    }

    private delegate void BinarySpanOp<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y);

    private static unsafe void Binary<T>(Span<T> a, Span<T> b, Span<T> y, BinarySpanOp<T> op) where T : unmanaged
    {
        if (y.Length < ParallelThreshold) { op(a, b, y); return; }
        fixed (T* pa = a, pb = b, py = y)
        {
            nint ia = (nint)pa, ib = (nint)pb, iy = (nint)py;
            int n = y.Length;
            CpuParallel.ForRanges(n, CpuParallel.ChunkCount(n, ParallelThreshold / 2), (_, start, len) =>
                op(new ReadOnlySpan<T>((T*)ia + start, (int)len), new ReadOnlySpan<T>((T*)ib + start, (int)len), new Span<T>((T*)iy + start, (int)len)));
        }
    }

    private static void ScaleKernel<T>(Span<T> x, T alpha, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        TensorPrimitives.Multiply(x, alpha, y);
}
