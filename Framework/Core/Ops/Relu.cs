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

    // Note [In-place ReLU and add]
    // A ReLU after a convolution or batch norm, and the add of a residual block, keep a second copy of an
    // activation alive until the step ends: the tensor they read is dead once they have run (nothing else
    // reads it and the backward of the op that made it never does), yet it stays in the step's TensorScope.
    // torchvision writes these in place (ReLU(inplace=True), out += identity), which is where much of
    // PyTorch's lower peak memory comes from: ResNet-50 keeps 6 activations per bottleneck block, not 10.
    // ReluInPlace and AddInPlace write into their first input instead. That is only right when (a) no other
    // consumer reads the input, neither later in the forward pass nor in its backward (a convolution or batch
    // norm that read it earlier reads it again there), which the caller knows (Network.Run counts the reads of
    // each value: with a graph, only a value's one reader may write over it), and (b) the op that made it does
    // not read it in backward either, which CanOverwrite checks here:
    // the op that produced it must be one whose backward reads only its inputs (Conv2d, Linear,
    // BatchNorm2d, Add) or there is no graph at all, and no other tensor may share its storage, except
    // tensors already written over (Storage.OverwrittenRefs: an add in place, then a ReLU in place). The
    // result is a new tensor object over the same storage, so the graph still sees two values.

    /// <summary>The ops whose backward reads only their inputs, never their output (Note [In-place ReLU and add]).</summary>
    private static readonly HashSet<string> s_outputFreeBackward = [nameof(Conv2d), nameof(Linear), nameof(BatchNorm2d), nameof(Add)];

    /// <summary>
    /// Whether an in-place op may write into <paramref name="x"/> as far as autograd and aliasing go: contiguous, the only
    /// tensor over its storage, and either outside any graph or made by an op whose backward does not read it. Whether
    /// anything else still reads x is the caller's to know (Note [In-place ReLU and add]).
    /// </summary>
    internal static bool CanOverwrite(Tensor x) =>
        x.IsContiguous && x.Offset == 0 && x.Storage.RefCount - x.Storage.OverwrittenRefs == 1
        && (x.GradFn is null ? !x.RequiresGrad : !x.GradFn.IsFreed && s_outputFreeBackward.Contains(x.GradFn.Name));

    /// <summary>
    /// max(x, 0) written over x; the same value and gradient as <see cref="Relu"/>. x must pass
    /// <see cref="CanOverwrite"/>, and nothing may read x afterwards (Note [In-place ReLU and add]).
    /// </summary>
    internal static Tensor ReluInPlace(Tensor x)
    {
        RequireFloating("relu", x);
        if (!CanOverwrite(x))
            throw new InvalidOperationException($"relu in place: cannot overwrite {x} (made by {x.GradFn?.Name ?? "no op"}; Note [In-place ReLU and add])");
        var backend = Backend.Of(x);
        var y = x.Alias();                // y: x's shape and storage
        backend.ReluForward(x, y);
        x.MarkOverwritten();
        return Tape.Record(nameof(Relu), y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(y);
            backend.ReluBackward(y, dy, dx);
            return [dx];
        });
    }
}
