using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// y (N, C, P, Q) = mean of each window of x (N, C, H, W), divisor per <see cref="Op.AvgPool2d(Tensor, Pool2dParams)"/>.
    /// Both contiguous. cuDNN's CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING / _EXCLUDE_PADDING shape.
    /// </summary>
    void AvgPool2dForward(Tensor x, Tensor y, Pool2dParams p);

    /// <summary>dx (N, C, H, W) = each window's dy (N, C, P, Q) divided by its divisor, summed over the windows that cover an element.</summary>
    void AvgPool2dBackward(Tensor dy, Tensor dx, Pool2dParams p);
}

public static partial class Op
{
    /// <summary>
    /// Average pooling over square windows of a contiguous (N, C, H, W) tensor. Output size as for
    /// <see cref="MaxPool2d(Tensor, int, int, int, bool)"/>. Divisor, exactly as PyTorch and Caffe:
    /// with <paramref name="countIncludePad"/> (the default, PyTorch's and Caffe's) it is the window's
    /// area clipped to the padded input (h_end = min(h_start + kernel, H + padding)), so zero padding
    /// counts but a ceil-mode overhang beyond the padding does not; otherwise it is the number of real
    /// input elements in the window.
    /// </summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int stride, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(x, Pool2dParams.Square(kernel, stride, padding, ceilMode, countIncludePad));

    /// <summary>Average pooling with a full <see cref="Pool2dParams"/> (rectangular windows).</summary>
    public static Tensor AvgPool2d(Tensor x, Pool2dParams p)
    {
        var (backend, cx, y) = Pool2dSetup("avg_pool2d", x, p);
        backend.AvgPool2dForward(cx, y, p);
        DisposeIfCopy(cx, x);
        var inShape = x.Shape.ToArray();
        return Tape.Record(nameof(AvgPool2d), y, [x], dy =>
        {
            var cdy = ContiguousNoGrad(dy);
            var dx = Tensor.Empty(inShape, dy.DType, dy.Device);
            backend.AvgPool2dBackward(cdy, dx, p);
            DisposeIfCopy(cdy, dy);
            return [dx];
        });
    }

    /// <summary>
    /// Mean over each (H, W) plane: (N, C, H, W) to (N, C, 1, 1). A composite: average pooling with a
    /// window the size of the input, whose separable CPU kernel already sums planes with SIMD.
    /// </summary>
    public static Tensor GlobalAvgPool2d(Tensor x)
    {
        RequireRank("global_avg_pool2d", x, 4, "(N, C, H, W)");
        if (x.Size(2) == 0 || x.Size(3) == 0)
            throw new ArgumentException($"global_avg_pool2d: empty spatial size in {x.ShapeString()}");
        return AvgPool2d(x, new Pool2dParams(x.Size(2), x.Size(3), 1, 1, 0, 0, CeilMode: false));
    }
}
