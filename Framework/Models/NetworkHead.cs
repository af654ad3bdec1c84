namespace Kiln.Models;

/// <summary>An output of a network: the layer it reads and its weight in the training loss. Head 0 is the main classifier.</summary>
public sealed record NetworkHead(string Layer, int LayerIndex, double LossWeight);
