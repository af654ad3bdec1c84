using Kiln.Core.Autograd;
using Kiln.Nn;

namespace Kiln.Training;

/// <summary>Hyper-parameters of <see cref="Sgd"/>.</summary>
public sealed record SgdOptions
{
    public double LearningRate { get; init; } = 0.01;
    public double Momentum { get; init; }
    public double WeightDecay { get; init; }
    public bool Nesterov { get; init; }
    /// <summary>Which momentum convention; chosen explicitly because they differ when the rate changes.</summary>
    public MomentumForm Form { get; init; } = MomentumForm.PyTorch;
}

/// <summary>A set of parameters with its own overrides of the optimiser's settings.</summary>
public sealed record ParameterGroup(IReadOnlyList<Parameter> Parameters)
{
    /// <summary>Multiplies the optimiser's learning rate for the group (on top of each parameter's own multiplier).</summary>
    public double LrMultiplier { get; init; } = 1;
    /// <summary>Multiplies the optimiser's weight decay for the group.</summary>
    public double DecayMultiplier { get; init; } = 1;
    public string Name { get; init; } = "";
}

/// <summary>
/// Stochastic gradient descent with momentum, Nesterov and L2 weight decay, in PyTorch's or Caffe's
/// momentum form, with per-group and per-parameter learning-rate and decay multipliers and the
/// filter RMS cap of Zeiler &amp; Fergus. Velocities live on the parameters' device.
/// </summary>
public sealed class Sgd : IDisposable
{
    private readonly List<ParameterGroup> _groups;
    private readonly Dictionary<Parameter, Tensor> _velocity = [];

    public Sgd(IEnumerable<Parameter> parameters, SgdOptions options) : this([new ParameterGroup(parameters.ToList())], options) { }

    public Sgd(IEnumerable<ParameterGroup> groups, SgdOptions options)
    {
        _groups = groups.ToList();
        Options = options;
        LearningRate = options.LearningRate;
        if (options.Momentum is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), $"momentum must be in [0, 1), got {options.Momentum}");
        if (options.Nesterov && options.Momentum == 0) throw new ArgumentException("Nesterov momentum needs momentum > 0");
        if (options.WeightDecay < 0) throw new ArgumentOutOfRangeException(nameof(options), $"weight decay must be ≥ 0, got {options.WeightDecay}");
        var seen = new HashSet<Parameter>();
        foreach (var g in _groups)
            foreach (var p in g.Parameters)
                if (!seen.Add(p)) throw new ArgumentException($"parameter {p} appears in more than one group");
    }

    public SgdOptions Options { get; }
    public IReadOnlyList<ParameterGroup> Groups => _groups;

    /// <summary>The current base learning rate; schedules set it before each step.</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of steps taken.</summary>
    public long StepCount { get; set; }

    /// <summary>Applies one update to every parameter that has a gradient, then the filter RMS caps.</summary>
    public void Step()
    {
        using var _ = GradMode.NoGrad();
        foreach (var group in _groups)
            foreach (var p in group.Parameters)
            {
                if (p.Grad is not { } grad) continue;
                var w = p.Value;
                if (!grad.SameShape(w)) throw new InvalidOperationException($"gradient {grad.ShapeString()} does not match parameter {w.ShapeString()}");
                Tensor? v = null;
                if (Options.Momentum > 0 && !_velocity.TryGetValue(p, out v))
                    _velocity[p] = v = Tensor.Zeros(w.Shape, w.DType, w.Device).MoveOutOfScope();
                double lr = LearningRate * group.LrMultiplier * p.LrMultiplier;
                double wd = Options.WeightDecay * group.DecayMultiplier * p.DecayMultiplier;
                Backend.Of(w).SgdUpdate(w, grad, v, lr, Options.Momentum, wd, Options.Nesterov, Options.Form);
                if (p.MaxFilterRms is double cap) Backend.Of(w).RenormFilters(w, cap);
            }
        StepCount++;
    }

    /// <summary>Frees every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var g in _groups)
            foreach (var p in g.Parameters) p.ZeroGrad();
    }

    /// <summary>The momentum buffer of a parameter, if one exists yet (for checkpoints).</summary>
    public Tensor? Velocity(Parameter p) => _velocity.GetValueOrDefault(p);

    /// <summary>Sets a momentum buffer (resuming from a checkpoint); the optimiser takes ownership.</summary>
    public void SetVelocity(Parameter p, Tensor v)
    {
        if (!v.SameShape(p.Value)) throw new ArgumentException($"velocity {v.ShapeString()} does not match parameter {p.Value.ShapeString()}");
        if (_velocity.Remove(p, out var old)) old.Dispose();
        _velocity[p] = v.MoveOutOfScope();
    }

    public void Dispose()
    {
        foreach (var v in _velocity.Values) v.Dispose();
        _velocity.Clear();
    }
}
