using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y (one element) = sum of all elements of x. Deterministic for a fixed input.</summary>
    void Sum(Tensor x, Tensor y);

    /// <summary>Every element of dst = alpha * scalar[0] (the backward of a full reduction).</summary>
    void FillFromScalar(Tensor scalar, double alpha, Tensor dst);
}

public static partial class Op
{
    /// <summary>Sum of all elements, as a rank-0 tensor.</summary>
    public static Tensor Sum(Tensor x) => Reduce(nameof(Sum), x, 1.0);

    /// <summary>Mean of all elements, as a rank-0 tensor.</summary>
    public static Tensor Mean(Tensor x)
    {
        if (x.NumElements == 0) throw new ArgumentException($"mean of an empty tensor {x.ShapeString()}");
        return Reduce(nameof(Mean), x, 1.0 / x.NumElements);
    }

    private static Tensor Reduce(string name, Tensor x, double alpha)
    {
        RequireFloating(name.ToLowerInvariant(), x);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.Empty([], x.DType, x.Device);
        backend.Sum(cx, y);
        DisposeIfCopy(cx, x);
        if (alpha != 1.0) backend.Scale(y, alpha, y);
        var shape = x.Shape.ToArray();
        return Tape.Record(name, y, [x], dy =>
        {
            var dx = Tensor.Empty(shape, dy.DType, dy.Device);
            backend.FillFromScalar(dy, alpha, dx);
            return [dx];
        });
    }
}
