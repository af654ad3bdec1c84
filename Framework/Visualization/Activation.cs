namespace Kiln.Visualization;

/// <summary>One activation of a feature map: which image, which map, where (row Y, column X of the map) and how strong.</summary>
public readonly record struct Activation(int Image, int Map, int Y, int X, float Value);
