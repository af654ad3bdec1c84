namespace Kiln.Nn;

/// <summary>
/// A learnable tensor owned by a module, with the per-parameter options the papers use:
/// learning-rate and weight-decay multipliers (Caffe's lr_mult / decay_mult: AlexNet trains biases
/// at 2x the rate without decay) and Zeiler &amp; Fergus's filter RMS cap.
/// </summary>
public sealed class Parameter : IDisposable
{
    private Tensor _value;

    public Parameter(Tensor value)
    {
        _value = Own(value);
    }

    /// <summary>The current values. Requires grad; lives outside every scope, owned by this parameter.</summary>
    public Tensor Value => _value;

    /// <summary>The gradient from the last backward passes, or null.</summary>
    public Tensor? Grad => _value.Grad;

    public ReadOnlySpan<int> Shape => _value.Shape;
    public long NumElements => _value.NumElements;

    /// <summary>Multiplies the optimiser's learning rate for this parameter.</summary>
    public double LrMultiplier { get; set; } = 1;

    /// <summary>Multiplies the optimiser's weight decay for this parameter.</summary>
    public double DecayMultiplier { get; set; } = 1;

    /// <summary>
    /// If set, after each optimiser step every filter (slice along dimension 0) whose RMS exceeds this
    /// value is scaled back to it (Zeiler &amp; Fergus 2014, section 3).
    /// </summary>
    public double? MaxFilterRms { get; set; }

    /// <summary>Replaces the values (loading weights, moving devices); the old tensor and its gradient are freed.</summary>
    public void Set(Tensor value)
    {
        if (!value.Shape.SequenceEqual(_value.Shape))
            throw new ArgumentException($"parameter of shape {_value.ShapeString()} cannot take a tensor of shape {value.ShapeString()}");
        var old = _value;
        _value = Own(value);
        old.Grad?.Dispose();
        old.Dispose();
    }

    /// <summary>Frees the gradient (the next backward allocates a fresh one).</summary>
    public void ZeroGrad()
    {
        _value.Grad?.Dispose();
        _value.Grad = null;
    }

    private static Tensor Own(Tensor value)
    {
        if (!value.IsLeaf) value = value.Detach();
        value.MoveOutOfScope();
        value.RequiresGrad = true;
        return value;
    }

    public void Dispose()
    {
        ZeroGrad();
        _value.Dispose();
    }

    public override string ToString() => $"Parameter{_value.ShapeString()}";
}
