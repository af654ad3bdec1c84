using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Softmax (or log-softmax) over the middle axis of x viewed as (outer, C, inner); y has x's shape.
    /// Computed stably (the row maximum is subtracted first).
    /// </summary>
    void SoftmaxForward(Tensor x, Tensor y, int outer, int channels, int inner, bool log);

    /// <summary>
    /// From the forward output y: softmax dx = y ⊙ (dy − Σ dy⊙y); log-softmax dx = dy − exp(y) Σ dy.
    /// </summary>
    void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, bool log);
}

public static partial class Op
{
    /// <summary>Softmax along <paramref name="dim"/> (default: the last).</summary>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxImpl(nameof(Softmax), x, dim, log: false);

    /// <summary>log(softmax(x)) along <paramref name="dim"/>, computed without forming the softmax.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxImpl(nameof(LogSoftmax), x, dim, log: true);

    private static Tensor SoftmaxImpl(string name, Tensor x, int dim, bool log)
    {
        RequireFloating(name.ToLowerInvariant(), x);
        var (outer, channels, inner) = SplitAt(x, dim);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        backend.SoftmaxForward(cx, y, outer, channels, inner, log);
        DisposeIfCopy(cx, x);
        return Tape.Record(name, y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(y);
            backend.SoftmaxBackward(y, dy, dx, outer, channels, inner, log);
            return [dx];
        });
    }

    /// <summary>Views x as (outer, C, inner) around dimension <paramref name="dim"/>.</summary>
    internal static (int Outer, int Channels, int Inner) SplitAt(Tensor x, int dim)
    {
        int d = x.NormalizeDim(dim);
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= x.Size(i);
        for (int i = d + 1; i < x.Rank; i++) inner *= x.Size(i);
        return (checked((int)outer), x.Size(d), checked((int)inner));
    }
}
