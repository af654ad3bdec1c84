namespace Kiln.Core;

/// <summary>
/// Disposes every tensor created on this thread while it is the innermost open scope.
/// A training step runs inside one scope, so its activations, gradients of intermediates and
/// temporaries are freed at the step's end (TorchSharp's DisposeScope plays the same role).
/// Parameters, optimiser state and anything moved out with <see cref="Tensor.MoveOutOfScope"/> survive.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private readonly TensorScope? _outer;
    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    private TensorScope()
    {
        _outer = t_current;
        t_current = this;
    }

    /// <summary>Opens a scope on this thread; dispose it to free what was created inside.</summary>
    public static TensorScope Begin() => new();

    internal static TensorScope? Current => t_current;

    /// <summary>Number of tensors registered (disposed ones included until the scope ends).</summary>
    public int Count => _tensors.Count;

    internal void Add(Tensor t)
    {
        t.Scope = this;
        _tensors.Add(t);
    }

    internal void Remove(Tensor t)
    {
        // Rare (parameters, returned results): a linear scan from the end, where recent tensors are.
        int i = _tensors.LastIndexOf(t);
        if (i >= 0) _tensors.RemoveAt(i);
    }

    /// <summary>Moves <paramref name="t"/> to the enclosing scope (or out of all scopes) and returns it.</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope == this) Remove(t);
        t.Scope = null;
        _outer?.Add(t);
        return t;
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (t_current != this)
            throw new InvalidOperationException("tensor scopes must be disposed in the reverse order they were opened, on the thread that opened them");
        _disposed = true;
        t_current = _outer;
        foreach (var t in _tensors)
        {
            t.Scope = null;
            t.Dispose();
        }
        _tensors.Clear();
    }
}
