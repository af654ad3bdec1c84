namespace Kiln.Nn;

/// <summary>Inverted dropout, active in training mode only.</summary>
public sealed class Dropout(double p = 0.5, RandomGenerator? generator = null) : Module
{
    public double P { get; } = p is >= 0 and < 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"dropout rate must be in [0, 1), got {p}");

    /// <summary>Where masks come from; null uses <see cref="RandomGenerator.Global"/>.</summary>
    public RandomGenerator? Generator { get; set; } = generator;

    public override Tensor Forward(Tensor x) => Op.Dropout(x, P, IsTraining, Generator ?? RandomGenerator.Global);
}
