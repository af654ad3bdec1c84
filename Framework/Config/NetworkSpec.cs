namespace Kiln.Config;

/// <summary>A network file as written: see <c>configs/models/README.md</c> for the language.</summary>
public sealed record NetworkSpec
{
    public required string File { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Source { get; init; }
    /// <summary>Default input size (C, H, W) as written, e.g. [3, 224, 224].</summary>
    public SpecValue? Input { get; init; }
    /// <summary>Network parameters with defaults; visible in every block, overridable when building.</summary>
    public IReadOnlyList<KeyValuePair<string, SpecValue>> Params { get; init; } = [];
    public IReadOnlyList<BlockSpec> Blocks { get; init; } = [];
    public IReadOnlyList<LayerSpec> Layers { get; init; } = [];
    /// <summary>Heads, main first; empty means the last layer with weight 1.</summary>
    public IReadOnlyList<OutputSpec> Outputs { get; init; } = [];
}
