using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void ReluForward(Tensor x, Tensor y)
    {
        if (IsF32(x)) TensorPrimitives.Max(Data<float>(x), 0f, Data<float>(y));
        else if (x.DType == DType.Float64) TensorPrimitives.Max(Data<double>(x), 0.0, Data<double>(y));
        else throw Unsupported("relu", x);
    }

    public void ReluBackward(Tensor y, Tensor dy, Tensor dx)
    {
        if (IsF32(y)) ReluBackwardKernel<float>(Data<float>(y), Data<float>(dy), Data<float>(dx));
        else if (y.DType == DType.Float64) ReluBackwardKernel<double>(Data<double>(y), Data<double>(dy), Data<double>(dx));
        else throw Unsupported("relu", y);
    }

    private static void ReluBackwardKernel<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rdy = ref MemoryMarshal.GetReference(dy);
        ref T rdx = ref MemoryMarshal.GetReference(dx);
        nuint i = 0, n = (nuint)dx.Length;
        if (Vector256.IsHardwareAccelerated)
        {
            nuint w = (nuint)Vector256<T>.Count;
            for (; i + w <= n; i += w)
            {
                var mask = Vector256.GreaterThan(Vector256.LoadUnsafe(ref ry, i), Vector256<T>.Zero);
                Vector256.BitwiseAnd(mask, Vector256.LoadUnsafe(ref rdy, i)).StoreUnsafe(ref rdx, i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref rdx, i) = Unsafe.Add(ref ry, i) > T.Zero ? Unsafe.Add(ref rdy, i) : T.Zero;
    }
}
