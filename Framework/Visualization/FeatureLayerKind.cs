namespace Kiln.Visualization;

/// <summary>What a layer of a <see cref="FeatureStack"/> is, as far as the deconvnet is concerned.</summary>
public enum FeatureLayerKind
{
    /// <summary>Convolution: projected down by the transposed convolution with the same filters (bias ignored).</summary>
    Conv,
    /// <summary>ReLU: the projection is rectified again on the way down.</summary>
    Relu,
    /// <summary>Max pooling: unpooled with the switches recorded in the forward pass.</summary>
    MaxPool,
    /// <summary>Local response normalisation: passed through unchanged on the way down (see Note [Deconvnet approximations]).</summary>
    Lrn,
    /// <summary>A layer that keeps the shape and is an identity or near-identity in evaluation (dropout, batch norm): passed through.</summary>
    PassThrough,
}
