namespace Kiln.Nn;

/// <summary>(N, C, H, W) to (N, C·H·W).</summary>
public sealed class Flatten(int startDim = 1) : Module
{
    public override Tensor Forward(Tensor x) => Op.Flatten(x, startDim);
}
