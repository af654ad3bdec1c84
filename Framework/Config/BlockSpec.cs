namespace Kiln.Config;

/// <summary>A reusable sub-network: formal parameters (with optional defaults) and its layers; its output is its last layer.</summary>
public sealed record BlockSpec(string Name, IReadOnlyList<KeyValuePair<string, SpecValue?>> Params, IReadOnlyList<LayerSpec> Layers, SourceLocation Where);
