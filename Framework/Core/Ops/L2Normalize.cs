using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y = x / max(‖x‖₂, eps) over the middle axis of (outer, C, inner).</summary>
    void L2NormalizeForward(Tensor x, Tensor y, int outer, int channels, int inner, double eps);

    /// <summary>dx = (dy − y Σ dy⊙y) / ‖x‖ where ‖x‖ &gt; eps, else dy / eps.</summary>
    void L2NormalizeBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, double eps);
}

public static partial class Op
{
    /// <summary>Scales each vector along <paramref name="dim"/> to unit L2 norm (PyTorch's F.normalize).</summary>
    public static Tensor L2Normalize(Tensor x, int dim = 1, double eps = 1e-12)
    {
        RequireFloating("l2_normalize", x);
        var (outer, channels, inner) = SplitAt(x, dim);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        backend.L2NormalizeForward(cx, y, outer, channels, inner, eps);
        return Tape.Record(nameof(L2Normalize), y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(cx);
            backend.L2NormalizeBackward(cx, y, dy, dx, outer, channels, inner, eps);
            return [dx];
        });
    }
}
