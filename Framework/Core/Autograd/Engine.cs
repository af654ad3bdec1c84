using Kiln.Core.Ops;

namespace Kiln.Core.Autograd;

/// <summary>Runs the recorded graph backwards.</summary>
internal static class Engine
{
    /// <summary>
    /// If set, called after each node's backward (and the accumulation of its gradients) with the
    /// node and the elapsed milliseconds: per-layer backward times for <c>kiln bench model</c>.
    /// Ops are synchronous on the CPU; on a device the times are launch times unless the observer synchronises.
    /// </summary>
    internal static Action<Node, double>? Profiler { get; set; }

    /// <summary>With <see cref="Profiler"/> set: waits for the device before each node's clock starts and stops
    /// (a GPU backend queues work asynchronously, so without it a node's time is only its launch cost).</summary>
    internal static Action? ProfilerBarrier { get; set; }

    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException(
                $"backward from tensor {root.ShapeString()} that does not require grad: no input of the ops that produced it requires grad (or it was computed under NoGrad)");
        if (gradient is null && root.NumElements != 1)
            throw new InvalidOperationException(
                $"backward without a gradient needs a one-element tensor, got {root.ShapeString()}; pass the output gradient");
        if (gradient is not null && !gradient.SameShape(root))
            throw new ArgumentException($"backward: gradient {gradient.ShapeString()} does not match tensor {root.ShapeString()}");

        using var _ = GradMode.NoGrad();
        var seed = gradient is null ? Tensor.Full(root.Shape, 1, root.DType, root.Device) : gradient.Contiguous();

        if (root.GradFn is null)
        {
            AccumulateLeaf(root, seed);
            return;
        }

        var nodes = Collect(root.GradFn);
        var pending = new Dictionary<Node, Tensor> { [root.GradFn] = seed };
        foreach (var node in nodes)
        {
            if (!pending.Remove(node, out var dy)) continue; // no gradient reached this node
            if (Profiler is not null) ProfilerBarrier?.Invoke();
            long started = Profiler is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var inputs = node.Inputs;
            var grads = node.BackwardFn!(dy);
            dy.Dispose();
            if (grads.Length != inputs.Length)
                throw new InvalidOperationException($"{node.Name}: backward returned {grads.Length} gradients for {inputs.Length} inputs");
            for (int i = 0; i < inputs.Length; i++)
            {
                var g = grads[i];
                var x = inputs[i];
                if (g is null) continue;
                if (!x.RequiresGrad) { g.Dispose(); continue; }
                if (!g.SameShape(x))
                    throw new InvalidOperationException(
                        $"{node.Name}: gradient for input {i} has shape {g.ShapeString()}, input has {x.ShapeString()}");
                if (x.GradFn is null) AccumulateLeaf(x, g);
                else if (pending.TryGetValue(x.GradFn, out var existing))
                {
                    pending[x.GradFn] = Op.Add(existing, g);
                    existing.Dispose();
                    g.Dispose();
                }
                else pending[x.GradFn] = g;
            }
            if (!retainGraph) node.Free();
            if (Profiler is not null)
            {
                ProfilerBarrier?.Invoke();
                Profiler(node, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        foreach (var left in pending.Values) left.Dispose();
    }

    /// <summary>Adds <paramref name="g"/> into <c>leaf.Grad</c>; takes ownership of g.</summary>
    private static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is null)
        {
            // The leaf owns its gradient: give it private, contiguous memory outside any scope.
            Tensor own = g;
            if (!g.IsContiguous || g.Offset != 0 || g.Storage.RefCount != 1)
            {
                own = g.To(g.DType);
                g.Dispose();
            }
            leaf.Grad = own.MoveOutOfScope();
        }
        else
        {
            Backend.Of(leaf.Grad).AddInPlace(leaf.Grad, g);
            g.Dispose();
        }
    }

    /// <summary>Every node reachable from <paramref name="root"/>, newest first (reverse tape order).</summary>
    private static List<Node> Collect(Node root)
    {
        var seen = new HashSet<Node> { root };
        var stack = new Stack<Node>();
        stack.Push(root);
        var all = new List<Node>();
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (n.IsFreed)
                throw new InvalidOperationException(
                    $"backward through a freed graph: {n.Name} was already used by an earlier Backward(); pass retainGraph: true to the first call to run backward twice");
            all.Add(n);
            foreach (var x in n.Inputs)
                if (x.GradFn is { } p && seen.Add(p)) stack.Push(p);
        }
        all.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        return all;
    }
}
