using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// y (N, C, P, Q) = maximum of each window of x (N, C, H, W); padded positions never win.
    /// Both contiguous. cuDNN's CUDNN_POOLING_MAX shape.
    /// </summary>
    void MaxPool2dForward(Tensor x, Tensor y, Pool2dParams p);

    /// <summary>
    /// dx (N, C, H, W) = the sum, over the windows in which an element is the first maximum (row-major
    /// scan order), of that window's dy (N, C, P, Q). No index tensor: the winner is found again from x
    /// (and y), as cuDNN's pooling backward does.
    /// </summary>
    void MaxPool2dBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p);
}

public static partial class Op
{
    /// <summary>
    /// Max pooling over square windows of a contiguous (N, C, H, W) tensor (a non-contiguous input is
    /// copied first). Output size per <see cref="Pool2dParams.OutputSize"/>: floor, or ceil with
    /// <paramref name="ceilMode"/> (Caffe, GoogLeNet). Padding is implicit minus infinity and must be at
    /// most kernel / 2. The gradient flows to the window's first maximum in row-major order (ties);
    /// NaN propagates, as in PyTorch: a window holding NaN outputs NaN and routes its gradient to the first NaN.
    /// </summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int stride, int padding = 0, bool ceilMode = false) =>
        MaxPool2d(x, Pool2dParams.Square(kernel, stride, padding, ceilMode));

    /// <summary>Max pooling with a full <see cref="Pool2dParams"/> (rectangular windows).</summary>
    public static Tensor MaxPool2d(Tensor x, Pool2dParams p)
    {
        var (backend, cx, y) = Pool2dSetup("max_pool2d", x, p);
        backend.MaxPool2dForward(cx, y, p);
        Tape.Record(nameof(MaxPool2d), y, [x], dy =>
        {
            var cdy = ContiguousNoGrad(dy);
            var dx = Tensor.EmptyLike(cx);
            backend.MaxPool2dBackward(cx, y, cdy, dx, p);
            DisposeIfCopy(cdy, dy);
            return [dx];
        });
        if (y.GradFn is null) DisposeIfCopy(cx, x); // else the copy is saved for backward and its scope frees it
        return y;
    }

    /// <summary>Checks shared by the poolings; returns the backend, x made contiguous (owned by the scope if a copy) and y.</summary>
    private static (IBackend Backend, Tensor X, Tensor Y) Pool2dSetup(string op, Tensor x, Pool2dParams p)
    {
        RequireFloating(op, x);
        RequireRank(op, x, 4, "(N, C, H, W)");
        p.Validate(op, x);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.Empty([x.Size(0), x.Size(1), p.OutputHeight(x.Size(2)), p.OutputWidth(x.Size(3))], x.DType, x.Device);
        return (backend, cx, y);
    }
}
