namespace Kiln.Nn;

/// <summary>Local response normalisation across channels; see <see cref="Op.LocalResponseNorm"/> for the two alpha conventions.</summary>
public sealed class LocalResponseNorm(int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0,
    LrnAlphaScaling scaling = LrnAlphaScaling.DividedBySize) : Module
{
    public int Size { get; } = size;
    public double Alpha { get; } = alpha;
    public double Beta { get; } = beta;
    public double K { get; } = k;
    public LrnAlphaScaling Scaling { get; } = scaling;

    public override Tensor Forward(Tensor x) => Op.LocalResponseNorm(x, Size, Alpha, Beta, K, Scaling);
}
