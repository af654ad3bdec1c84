namespace Kiln.Nn;

/// <summary>What <see cref="Module.LoadStateDict"/> loaded and what it did not.</summary>
public sealed class LoadReport
{
    internal LoadReport(IReadOnlyList<string> loaded, IReadOnlyList<TensorMismatch> missing,
                        IReadOnlyList<TensorMismatch> unexpected, IReadOnlyList<TensorMismatch> mismatched)
    {
        Loaded = loaded;
        Missing = missing;
        Unexpected = unexpected;
        Mismatched = mismatched;
    }

    /// <summary>Names copied into the model (empty when a strict load failed: it loads nothing).</summary>
    public IReadOnlyList<string> Loaded { get; }

    /// <summary>In the model, not in the checkpoint: these keep their current values.</summary>
    public IReadOnlyList<TensorMismatch> Missing { get; }

    /// <summary>In the checkpoint, not in the model: ignored.</summary>
    public IReadOnlyList<TensorMismatch> Unexpected { get; }

    /// <summary>In both, with a different shape or dtype: not loaded.</summary>
    public IReadOnlyList<TensorMismatch> Mismatched { get; }

    /// <summary>True when every model tensor was loaded and nothing was left over.</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    /// <summary>A multi-line list of every problem ("" when exact).</summary>
    public string Problems()
    {
        var lines = new List<string>();
        if (Missing.Count > 0)
            lines.Add($"  missing from the checkpoint ({Missing.Count}): " + string.Join(", ", Missing));
        if (Unexpected.Count > 0)
            lines.Add($"  unexpected, not in the model ({Unexpected.Count}): " + string.Join(", ", Unexpected));
        if (Mismatched.Count > 0)
            lines.Add($"  mismatched shape or dtype ({Mismatched.Count}): " + string.Join("; ", Mismatched));
        if (Mismatched.Any(m => ShapeOf(m.Checkpoint) == ShapeOf(m.Model)))
            lines.Add("  dtypes are never converted on load: convert the file first (kiln weights convert IN OUT --to f32)");
        return string.Join(Environment.NewLine, lines);
    }

    private static string? ShapeOf(string? description) => description?[..(description.LastIndexOf(' ') + 1)];

    public override string ToString() =>
        $"loaded {Loaded.Count}, missing {Missing.Count}, unexpected {Unexpected.Count}, mismatched {Mismatched.Count}" +
        (IsExact ? "" : Environment.NewLine + Problems());
}
