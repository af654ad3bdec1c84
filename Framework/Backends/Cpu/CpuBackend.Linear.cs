using Kiln.Backends.Cpu.Gemm;

namespace Kiln.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void LinearForward(Tensor x, Tensor weight, Tensor? bias, Tensor y)
    {
        if (IsF32(y)) LinearForwardKernel<float>(x, weight, bias, y);
        else if (y.DType == DType.Float64) LinearForwardKernel<double>(x, weight, bias, y);
        else throw Unsupported("linear", y);
    }

    public void LinearBackwardBias(Tensor dy, Tensor db)
    {
        if (IsF32(dy)) ColumnSums<float>(Data<float>(dy), dy.Size(0), dy.Size(1), Data<float>(db));
        else if (dy.DType == DType.Float64) ColumnSums<double>(Data<double>(dy), dy.Size(0), dy.Size(1), Data<double>(db));
        else throw Unsupported("linear", dy);
    }

    private static void LinearForwardKernel<T>(Tensor x, Tensor weight, Tensor? bias, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Size(0), inF = x.Size(1), outF = weight.Size(0);
        // y (N, out): start from the bias in every row, then y += x · weightᵀ.
        var yd = Data<T>(y);
        if (bias is not null)
        {
            var b = Data<T>(bias);
            for (int i = 0; i < n; i++) b.CopyTo(yd.Slice(i * outF, outF));
        }
        CpuGemm.Run(false, true, n, outF, inF, T.One, Ptr<T>(x), Math.Max(1, inF), Ptr<T>(weight), Math.Max(1, inF),
            bias is null ? T.Zero : T.One, Ptr<T>(y), Math.Max(1, outF));
    }

    /// <summary>sums[j] = Σ_i m[i*cols + j], rows added in order (vectorised across columns).</summary>
    internal static void ColumnSums<T>(ReadOnlySpan<T> m, int rows, int cols, Span<T> sums) where T : unmanaged, IFloatingPointIeee754<T>
    {
        sums.Clear();
        for (int i = 0; i < rows; i++)
            System.Numerics.Tensors.TensorPrimitives.Add(sums, m.Slice(i * cols, cols), sums);
    }
}
