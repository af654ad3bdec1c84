using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y = max(x, 0).</summary>
    void ReluForward(Tensor x, Tensor y);

    /// <summary>dx = dy where y &gt; 0, else 0 (y is the forward output, as cuDNN takes it).</summary>
    void ReluBackward(Tensor y, Tensor dy, Tensor dx);
}

public static partial class Op
{
    public static Tensor Relu(Tensor x)
    {
        RequireFloating("relu", x);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        backend.ReluForward(cx, y);
        DisposeIfCopy(cx, x);
        return Tape.Record(nameof(Relu), y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(y);
            backend.ReluBackward(y, dy, dx);
            return [dx];
        });
    }
}
