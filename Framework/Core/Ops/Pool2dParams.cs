namespace Kiln.Core.Ops;

/// <summary>
/// Window geometry of a 2-d pooling (cuDNN's pooling descriptor plus PyTorch's ceil_mode and
/// count_include_pad). Height and width are separate so square-only call sites can grow.
/// </summary>
/// <param name="KernelH">Window height R.</param>
/// <param name="KernelW">Window width S.</param>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Implicit padding on the top and the bottom.</param>
/// <param name="PadW">Implicit padding on the left and the right.</param>
/// <param name="CeilMode">Round the output size up (Caffe, GoogLeNet) instead of down; see <see cref="OutputSize"/>.</param>
/// <param name="CountIncludePad">Average pooling only: whether padded positions count in the divisor; see <see cref="Op.AvgPool2d(Tensor, int, int, int, bool, bool)"/>.</param>
public readonly record struct Pool2dParams(
    int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, bool CeilMode, bool CountIncludePad = true)
{
    /// <summary>Square window, stride and padding.</summary>
    public static Pool2dParams Square(int kernel, int stride, int padding, bool ceilMode, bool countIncludePad = true) =>
        new(kernel, kernel, stride, stride, padding, padding, ceilMode, countIncludePad);

    /// <summary>
    /// Output length along one dimension, PyTorch's and Caffe's rule: floor (or ceil with
    /// <paramref name="ceilMode"/>) of (size + 2 pad - kernel) / stride, plus 1; with ceil mode, a last
    /// window that would start beyond the input and its left padding (at or past size + pad) is dropped.
    /// </summary>
    public static int OutputSize(int size, int kernel, int stride, int pad, bool ceilMode)
    {
        int span = size + 2 * pad - kernel;
        if (span < 0) return 0;
        int outSize = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceilMode && (outSize - 1) * stride >= size + pad) outSize--;
        return outSize;
    }

    /// <summary>Output height P for an input of height <paramref name="h"/>.</summary>
    public int OutputHeight(int h) => OutputSize(h, KernelH, StrideH, PadH, CeilMode);

    /// <summary>Output width Q for an input of width <paramref name="w"/>.</summary>
    public int OutputWidth(int w) => OutputSize(w, KernelW, StrideW, PadW, CeilMode);

    /// <summary>Throws unless the geometry is valid for input <paramref name="x"/> (N, C, H, W).</summary>
    internal void Validate(string op, Tensor x)
    {
        if (KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"{op}: kernel and stride must be >= 1 and padding >= 0, got kernel ({KernelH}, {KernelW}), stride ({StrideH}, {StrideW}), padding ({PadH}, {PadW})");
        if (PadH > KernelH / 2 || PadW > KernelW / 2)
            throw new ArgumentException($"{op}: padding ({PadH}, {PadW}) must be at most half the kernel ({KernelH}, {KernelW}) (PyTorch's rule: every window must see the input)");
        int h = x.Size(2), w = x.Size(3);
        if (h + 2 * PadH < KernelH || w + 2 * PadW < KernelW)
            throw new ArgumentException($"{op}: kernel ({KernelH}, {KernelW}) is larger than the padded input {x.ShapeString()} with padding ({PadH}, {PadW})");
    }

    public override string ToString() =>
        $"kernel ({KernelH}, {KernelW}), stride ({StrideH}, {StrideW}), padding ({PadH}, {PadW}), ceil_mode {CeilMode}, count_include_pad {CountIncludePad}";
}
