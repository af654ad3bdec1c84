namespace Kiln.Nn;

/// <summary>2-D convolution with weight (K, C/groups, R, S) and optional bias (K); PyTorch's default initialisation.</summary>
public sealed class Conv2d : Module
{
    public Conv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true)
        : this(inChannels, outChannels, (kernel, kernel), new Conv2dParams(stride, padding, dilation, groups), bias) { }

    /// <summary>With <c>defaultInit</c> false the values are left uninitialised, for a caller that initialises them itself.</summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernel, Conv2dParams geometry, bool bias = true, bool defaultInit = true)
    {
        if (inChannels % geometry.Groups != 0 || outChannels % geometry.Groups != 0)
            throw new ArgumentException($"conv2d: groups {geometry.Groups} must divide in_channels {inChannels} and out_channels {outChannels}");
        Geometry = geometry;
        Weight = RegisterParameter("weight", Tensor.Empty([outChannels, inChannels / geometry.Groups, kernel.H, kernel.W]));
        if (bias) Bias = RegisterParameter("bias", Tensor.Empty([outChannels]));
        if (defaultInit) Init.Default(Weight.Value, Bias?.Value);
    }

    public Conv2dParams Geometry { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Tensor Forward(Tensor x) => Op.Conv2d(x, Weight.Value, Bias?.Value, Geometry);
}
