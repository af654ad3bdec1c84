namespace Kiln.Config;

/// <summary>
/// One entry of a layer list, as written: a layer (<see cref="Type"/>), an instance of a block
/// (<see cref="Block"/>, with <see cref="Args"/> and an optional <see cref="Repeat"/>), or a
/// <c>sequential</c> group whose unnamed members are named 0, 1, 2, ... (torchvision's
/// <c>features</c>). <see cref="Options"/> holds the layer's own keys (out, kernel, init, ...).
/// </summary>
public sealed record LayerSpec
{
    public string? Type { get; init; }
    public string? Block { get; init; }
    public string? Name { get; init; }
    public IReadOnlyList<SpecValue>? Inputs { get; init; }
    public SpecValue? Repeat { get; init; }
    public SpecValue? When { get; init; }
    public IReadOnlyList<KeyValuePair<string, SpecValue>> Args { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, SpecValue>> Options { get; init; } = [];
    public IReadOnlyList<LayerSpec>? Layers { get; init; }
    public required SourceLocation Where { get; init; }
}
