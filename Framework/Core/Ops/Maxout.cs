using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y (outer, C/p, inner) = max over each group of p consecutive channels of x (outer, C, inner).</summary>
    void MaxoutForward(Tensor x, Tensor y, int outer, int channels, int inner, int groupSize);

    /// <summary>dx gets dy at the first maximum of each group, zero elsewhere.</summary>
    void MaxoutBackward(Tensor x, Tensor dy, Tensor dx, int outer, int channels, int inner, int groupSize);
}

public static partial class Op
{
    /// <summary>Maxout (Goodfellow et al. 2013): the max over groups of <paramref name="groupSize"/> consecutive entries of <paramref name="dim"/> (default: channels or features).</summary>
    public static Tensor Maxout(Tensor x, int groupSize, int dim = 1)
    {
        RequireFloating("maxout", x);
        var (outer, channels, inner) = SplitAt(x, dim);
        if (groupSize < 1 || channels % groupSize != 0)
            throw new ArgumentException($"maxout: group size {groupSize} must divide the {channels} entries of dim {dim} of {x.ShapeString()}");
        var shape = x.Shape.ToArray();
        shape[x.NormalizeDim(dim)] = channels / groupSize;
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.Empty(shape, x.DType, x.Device);
        backend.MaxoutForward(cx, y, outer, channels, inner, groupSize);
        return Tape.Record(nameof(Maxout), y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(cx);
            backend.MaxoutBackward(cx, dy, dx, outer, channels, inner, groupSize);
            return [dx];
        });
    }
}
