namespace Kiln.Models;

/// <summary>
/// A convolution as a training step runs it: the layer's dotted name (<c>layer2.0.conv1</c>), its input
/// (N, C, H, W), its weight (K, C/groups, R, S) and its geometry. See <see cref="Network.ConvLayers"/>.
/// </summary>
public sealed record ConvLayer(string Name, int[] Input, int[] Weight, Conv2dParams Geometry);
