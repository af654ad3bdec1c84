namespace Kiln.Nn;

/// <summary>Unit L2 norm along dimension 1.</summary>
public sealed class L2Normalize(double eps = 1e-12) : Module
{
    public override Tensor Forward(Tensor x) => Op.L2Normalize(x, 1, eps);
}
