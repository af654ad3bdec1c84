using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y (N, out) = x (N, in) · weightᵀ + bias, weight (out, in) as PyTorch stores it; all contiguous.</summary>
    void LinearForward(Tensor x, Tensor weight, Tensor? bias, Tensor y);

    /// <summary>db (out) = column sums of dy (N, out), summed in order of rows (deterministic).</summary>
    void LinearBackwardBias(Tensor dy, Tensor db);
}

public static partial class Op
{
    /// <summary>Fully connected layer: x (N, in) · weightᵀ + bias, with weight (out, in) and bias (out).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        RequireFloating("linear", x);
        RequireRank("linear", x, 2, "(N, in)");
        if (weight.Rank != 2 || weight.Size(1) != x.Size(1))
            throw new ArgumentException($"linear: weight {weight.ShapeString()} needs shape (out, {x.Size(1)}) for input {x.ShapeString()}");
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != weight.Size(0)))
            throw new ArgumentException($"linear: bias {bias.ShapeString()} needs shape ({weight.Size(0)}) for weight {weight.ShapeString()}");
        if (weight.DType != x.DType || (bias is not null && bias.DType != x.DType))
            throw new ArgumentException($"linear: dtypes differ, x {x.DType.Name()}, weight {weight.DType.Name()}{(bias is null ? "" : $", bias {bias.DType.Name()}")}");
        var backend = Backend.Of(x, weight);
        if (bias is not null) Backend.Of(x, bias);
        var (cx, cw) = (ContiguousNoGrad(x), ContiguousNoGrad(weight));
        var cb = bias is null ? null : ContiguousNoGrad(bias);
        var y = Tensor.Empty([x.Size(0), weight.Size(0)], x.DType, x.Device);
        backend.LinearForward(cx, cw, cb, y);
        DisposeIfCopy(cx, x);
        DisposeIfCopy(cw, weight);
        if (cb is not null) DisposeIfCopy(cb, bias!);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        return Tape.Record(nameof(Linear), y, inputs, dy =>
        {
            var dx = x.RequiresGrad ? Gemm(dy, weight, false, false) : null;   // (N, out)·(out, in)
            var dw = weight.RequiresGrad ? Gemm(dy, x, true, false) : null;    // (N, out)ᵀ·(N, in)
            if (bias is null) return [dx, dw];
            Tensor? db = null;
            if (bias.RequiresGrad)
            {
                db = Tensor.Empty([weight.Size(0)], dy.DType, dy.Device);
                var cdy = ContiguousNoGrad(dy);
                backend.LinearBackwardBias(cdy, db);
                DisposeIfCopy(cdy, dy);
            }
            return [dx, dw, db];
        });
    }
}
