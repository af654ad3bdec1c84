namespace Kiln.Nn;

/// <summary>
/// A layer or network: parameters, buffers (running statistics) and child modules, each named so
/// that the dotted names (<c>features.0.weight</c>, <c>layer1.0.bn1.running_mean</c>) match
/// PyTorch's state-dict keys. Owns its parameters and buffers: disposing a module frees them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Parameter Value)> _parameters = [];
    private readonly List<(string Name, Tensor Value)> _buffers = [];
    private readonly List<(string Name, Module Value)> _children = [];

    /// <summary>True in training mode (dropout active, batch norm uses batch statistics).</summary>
    public bool IsTraining { get; private set; } = true;

    public abstract Tensor Forward(Tensor x);

    /// <summary>Sets training (or evaluation) mode on this module and all below it.</summary>
    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach (var (_, c) in _children) c.Train(training);
        return this;
    }

    public Module Eval() => Train(false);

    protected Parameter RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        var p = new Parameter(value);
        _parameters.Add((name, p));
        return p;
    }

    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        value.MoveOutOfScope();
        _buffers.Add((name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    /// <summary>Child modules in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children;

    /// <summary>This module and every module below it, depth first (PyTorch's <c>modules()</c>).</summary>
    public IEnumerable<Module> Modules()
    {
        yield return this;
        foreach (var (_, c) in _children)
            foreach (var m in c.Modules()) yield return m;
    }

    /// <summary>Every parameter below this module with its dotted name.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var item in c.NamedParameters(prefix + n + ".")) yield return item;
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer below this module with its dotted name.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var item in c.NamedBuffers(prefix + n + ".")) yield return item;
    }

    /// <summary>Parameters then buffers of each module, depth first: the tensors a checkpoint holds.</summary>
    public IEnumerable<(string Name, Tensor Value)> StateDict(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p.Value);
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var item in c.StateDict(prefix + n + ".")) yield return item;
    }

    /// <summary>
    /// Copies tensors into this module's parameters and buffers by dotted name (see Note [Loading state]).
    /// Strict (the default): every model tensor must be present with the same shape and dtype, and
    /// nothing else; otherwise a <see cref="StateDictMismatchException"/> lists every problem and nothing
    /// is loaded. Non-strict: the tensors that match are loaded, the report lists the rest (fine-tuning
    /// with a new head). The caller keeps ownership of <paramref name="state"/>.
    /// </summary>
    public LoadReport LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var sources = state.Select(kv => StateDictLoader.Of(kv.Key, kv.Value)).ToList();
        return StateDictLoader.Load(this, sources, (name, target) => StateDictLoader.CopyInto(state[name], target), strict, "state dict");
    }

    /// <summary>Called on every module after a load has copied new values into its tensors.</summary>
    protected virtual void OnStateLoaded() { }

    internal void NotifyStateLoaded()
    {
        OnStateLoaded();
        foreach (var (_, c) in _children) c.NotifyStateLoaded();
    }

    /// <summary>Total number of learnable values.</summary>
    public long ParameterCount => Parameters().Sum(p => p.NumElements);

    /// <summary>Frees all parameter gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Moves parameters and buffers to <paramref name="device"/>.</summary>
    public Module To(Device device)
    {
        foreach (var (_, p) in _parameters)
            if (p.Value.Device != device) p.Set(p.Value.To(device));
        for (int i = 0; i < _buffers.Count; i++)
        {
            var (n, b) = _buffers[i];
            if (b.Device == device) continue;
            _buffers[i] = (n, b.To(device).MoveOutOfScope());
            b.Dispose();
        }
        foreach (var (_, c) in _children) c.To(device);
        return this;
    }

    /// <summary>Replaces a buffer's tensor (after loading or moving).</summary>
    protected void ReplaceBuffer(string name, Tensor value)
    {
        int i = _buffers.FindIndex(b => b.Name == name);
        if (i < 0) throw new ArgumentException($"{GetType().Name} has no buffer '{name}'");
        _buffers[i].Value.Dispose();
        _buffers[i] = (name, value.MoveOutOfScope());
    }

    /// <summary>The buffer registered under <paramref name="name"/> in this module.</summary>
    protected Tensor Buffer(string name) => _buffers.First(b => b.Name == name).Value;

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"module member name '{name}' must be non-empty and contain no '.'");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name} already has a member named '{name}'");
    }

    public virtual void Dispose()
    {
        foreach (var (_, p) in _parameters) p.Dispose();
        foreach (var (_, b) in _buffers) b.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}
