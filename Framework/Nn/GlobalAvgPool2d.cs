namespace Kiln.Nn;

/// <summary>(N, C, H, W) to (N, C, 1, 1) by averaging each plane (Network-in-Network, GoogLeNet, ResNet).</summary>
public sealed class GlobalAvgPool2d : Module
{
    public override Tensor Forward(Tensor x) => Op.GlobalAvgPool2d(x);
}
