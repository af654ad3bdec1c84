using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y (N, K, P, Q) = conv(x (N, C, H, W), w (K, C/groups, R, S)) + bias (K); all contiguous NCHW (cuDNN's ConvolutionForward).</summary>
    void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p);

    /// <summary>dx (N, C, H, W) = gradient of the input from dy (N, K, P, Q) and w (cuDNN's ConvolutionBackwardData). Overwrites dx.</summary>
    void Conv2dBackwardData(Tensor w, Tensor dy, Tensor dx, Conv2dParams p);

    /// <summary>
    /// dw (K, C/groups, R, S) and dbias (K) from x and dy (cuDNN's ConvolutionBackwardFilter and
    /// BackwardBias); either may be null when not needed. Overwrites them; sums over images in a fixed order.
    /// </summary>
    void Conv2dBackwardWeights(Tensor x, Tensor dy, Tensor? dw, Tensor? dbias, Conv2dParams p);
}

public static partial class Op
{
    /// <summary>2-D convolution (cross-correlation, as in every framework) with square stride, padding and dilation.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(x, weight, bias, new Conv2dParams(stride, padding, dilation, groups));

    /// <summary>2-D convolution with (height, width) stride, padding and dilation.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1) =>
        Conv2d(x, weight, bias, new Conv2dParams(stride, padding, dilation, groups));

    /// <summary>
    /// 2-D convolution of x (N, C, H, W) with weight (K, C/groups, R, S) and optional bias (K), giving
    /// (N, K, P, Q) with P = (H + 2*padH - dilationH*(R-1) - 1)/strideH + 1. Needs contiguous NCHW input.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p)
    {
        RequireFloating("conv2d", x);
        var yShape = p.OutputShape(x.Shape, weight.Shape);
        if (weight.DType != x.DType || (bias is not null && bias.DType != x.DType))
            throw new ArgumentException($"conv2d: dtypes differ, x {x.DType.Name()}, weight {weight.DType.Name()}{(bias is null ? "" : $", bias {bias.DType.Name()}")}");
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != weight.Size(0)))
            throw new ArgumentException($"conv2d: bias {bias.ShapeString()} needs shape ({weight.Size(0)}) for weight {weight.ShapeString()}");
        RequireContiguous("input", x);
        RequireContiguous("weight", weight);
        if (bias is not null) RequireContiguous("bias", bias);
        var backend = Backend.Of(x, weight);
        if (bias is not null) Backend.Of(x, bias);
        var y = Tensor.Empty(yShape, x.DType, x.Device);
        backend.Conv2dForward(x, weight, bias, y, p);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        return Tape.Record(nameof(Conv2d), y, inputs, dy =>
        {
            var cdy = ContiguousNoGrad(dy);
            try
            {
                Tensor? dx = null, dw = null, db = null;
                if (x.RequiresGrad)
                {
                    dx = Tensor.EmptyLike(x);
                    backend.Conv2dBackwardData(weight, cdy, dx, p);
                }
                if (weight.RequiresGrad) dw = Tensor.EmptyLike(weight);
                if (bias is { RequiresGrad: true }) db = Tensor.EmptyLike(bias);
                if (dw is not null || db is not null) backend.Conv2dBackwardWeights(x, cdy, dw, db, p);
                return bias is null ? [dx, dw] : [dx, dw, db];
            }
            finally
            {
                DisposeIfCopy(cdy, dy);
            }
        });

        static void RequireContiguous(string what, Tensor t)
        {
            if (!t.IsContiguous)
                throw new ArgumentException(
                    $"conv2d: needs a contiguous NCHW {what}, got {t.ShapeString()} with strides ({string.Join(", ", t.Strides.ToArray())}); call Contiguous() first");
        }
    }
}
