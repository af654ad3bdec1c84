namespace Kiln.Config;

/// <summary>A head of the network: the layer whose output it is and its weight in the loss. The first head is the main one.</summary>
public sealed record OutputSpec(string Layer, double Weight, SourceLocation Where);
