using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kiln.Backends.Cpu.Gemm;

namespace Kiln.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0)
    {
        if (IsF32(c)) MatMulKernel<float>(a, b, c, transA, transB, (float)alpha, (float)beta);
        else if (c.DType == DType.Float64) MatMulKernel<double>(a, b, c, transA, transB, alpha, beta);
        else throw Unsupported("matmul", c);
    }

    private static void MatMulKernel<T>(Tensor a, Tensor b, Tensor c, bool transA, bool transB, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = c.Size(0), n = c.Size(1), k = a.Size(transA ? 0 : 1);
        CpuGemm.Run(transA, transB, m, n, k, alpha, Ptr<T>(a), Math.Max(1, a.Size(1)), Ptr<T>(b), Math.Max(1, b.Size(1)),
            beta, Ptr<T>(c), Math.Max(1, n));
    }

    /// <summary>Address of a contiguous CPU tensor's first element (its memory is native and never moves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T* Ptr<T>(Tensor t) where T : unmanaged => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Data<T>(t)));
}
