using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public static partial class Op
{
    /// <summary>Elementwise a + b (same shape; residual shortcuts, gradient sums).</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        var backend = Backend.Of(a, b);
        RequireSameShape("add", a, b);
        var (ca, cb) = (ContiguousNoGrad(a), ContiguousNoGrad(b));
        var y = Tensor.EmptyLike(ca);
        backend.Add(ca, cb, y);
        DisposeIfCopy(ca, a);
        DisposeIfCopy(cb, b);
        return Tape.Record(nameof(Add), y, [a, b], dy => [a.RequiresGrad ? dy.Alias() : null, b.RequiresGrad ? dy.Alias() : null]);
    }

    /// <summary>
    /// a + b written over a; the same value and gradients as <see cref="Add"/>. a must pass <see cref="CanOverwrite"/>,
    /// and nothing may read a afterwards (Note [In-place ReLU and add]).
    /// </summary>
    internal static Tensor AddInPlace(Tensor a, Tensor b)
    {
        var backend = Backend.Of(a, b);
        RequireSameShape("add", a, b);
        if (!CanOverwrite(a))
            throw new InvalidOperationException($"add in place: cannot overwrite {a} (made by {a.GradFn?.Name ?? "no op"}; Note [In-place ReLU and add])");
        var cb = ContiguousNoGrad(b);
        var y = a.Alias();                // y: a's shape and storage
        backend.AddInPlace(y, cb);
        a.MarkOverwritten();
        DisposeIfCopy(cb, b);
        return Tape.Record(nameof(Add), y, [a, b], dy => [a.RequiresGrad ? dy.Alias() : null, b.RequiresGrad ? dy.Alias() : null]);
    }

    /// <summary>alpha * x.</summary>
    public static Tensor Scale(Tensor x, double alpha)
    {
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        Backend.Of(x).Scale(cx, alpha, y);
        DisposeIfCopy(cx, x);
        return Tape.Record(nameof(Scale), y, [x], dy => [Scale(dy, alpha)]);
    }

    internal static void RequireSameShape(string op, Tensor a, Tensor b)
    {
        if (!a.SameShape(b))
            throw new ArgumentException($"{op}: shapes differ, {a.ShapeString()} and {b.ShapeString()}");
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes differ, {a.DType.Name()} and {b.DType.Name()}");
    }

    internal static void RequireFloating(string op, Tensor x)
    {
        if (!x.DType.IsFloating())
            throw new ArgumentException($"{op}: needs a floating tensor, got {x.DType.Name()} {x.ShapeString()}");
    }

    internal static void RequireRank(string op, Tensor x, int rank, string layout)
    {
        if (x.Rank != rank)
            throw new ArgumentException($"{op}: needs a rank-{rank} input {layout}, got {x.ShapeString()}");
    }

    /// <summary>x if contiguous, else a contiguous copy without autograd history (for feeding kernels).</summary>
    internal static Tensor ContiguousNoGrad(Tensor x)
    {
        if (x.IsContiguous) return x;
        var y = Tensor.EmptyLike(x);
        Backend.Of(x).Copy(x, y);
        return y;
    }

    internal static void DisposeIfCopy(Tensor maybeCopy, Tensor original)
    {
        if (!ReferenceEquals(maybeCopy, original)) maybeCopy.Dispose();
    }
}
