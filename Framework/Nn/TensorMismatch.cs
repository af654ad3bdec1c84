namespace Kiln.Nn;

/// <summary>
/// One tensor that did not load: missing (<see cref="Checkpoint"/> null), unexpected
/// (<see cref="Model"/> null) or mismatched (both set, e.g. "(1000, 512) float32" vs "(10, 512) float32").
/// </summary>
public sealed record TensorMismatch(string Name, string? Checkpoint, string? Model)
{
    public override string ToString() => (Checkpoint, Model) switch
    {
        (null, _) => $"{Name} {Model}",
        (_, null) => $"{Name} {Checkpoint}",
        _ => $"{Name}: checkpoint {Checkpoint}, model {Model}",
    };
}
