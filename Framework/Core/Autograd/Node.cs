namespace Kiln.Core.Autograd;

/// <summary>
/// Backward function of one recorded op: the inputs it read and a closure that maps the output's
/// gradient to one gradient per input (null where an input needs none).
/// Contract for closures: every returned tensor is handed over to the engine, which disposes it
/// when consumed, so return a fresh tensor or an <see cref="Tensor.Alias"/>, never dy itself or a
/// tensor you keep.
/// </summary>
public sealed class Node
{
    private static long s_nextSequence;

    internal Node(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        Name = name;
        Inputs = inputs;
        BackwardFn = backward;
        Sequence = Interlocked.Increment(ref s_nextSequence);
    }

    /// <summary>The op's name, used in error messages.</summary>
    public string Name { get; }

    internal Tensor[] Inputs { get; private set; }
    internal Func<Tensor, Tensor?[]>? BackwardFn { get; private set; }

    /// <summary>Creation order: a node's inputs were always produced by nodes with smaller numbers.</summary>
    internal long Sequence { get; }

    /// <summary>The sequence number of the newest node (profilers bracket a region of the tape with it).</summary>
    internal static long LastSequence => Interlocked.Read(ref s_nextSequence);

    internal bool IsFreed => BackwardFn is null;

    private List<Tensor>? _release;

    /// <summary>
    /// Disposes <paramref name="t"/> when this node is freed after its backward (Note [Activations released in backward]):
    /// the caller promises that nothing reads t once this node and every node after it have run backward.
    /// </summary>
    internal void ReleaseAfterBackward(Tensor t) => (_release ??= []).Add(t);

    /// <summary>Drops the closure and inputs so saved tensors can go, and disposes what was handed to <see cref="ReleaseAfterBackward"/>.</summary>
    internal void Free()
    {
        BackwardFn = null;
        Inputs = [];
        if (_release is null) return;
        foreach (var t in _release) t.Dispose();
        _release = null;
    }

    public override string ToString() => $"{Name}#{Sequence}";
}
