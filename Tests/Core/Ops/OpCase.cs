namespace Kiln.Tests.Core.Ops;

/// <summary>How an input of an op case is filled.</summary>
public enum Sampling
{
    /// <summary>Uniform in [-1, 1).</summary>
    Uniform,
    /// <summary>Magnitudes in [0.1, 1) with random signs: keeps ReLU-like kinks at 0 out of reach of the finite differences.</summary>
    AwayFromZero,
    /// <summary>A random permutation of well-spaced values: no ties, so max-pool and maxout have unique winners.</summary>
    Distinct,
    /// <summary>Uniform in [0.5, 1.5): positive, for ops with a singularity at 0.</summary>
    Positive,
    /// <summary>Integer class labels in [0, Classes): no gradient.</summary>
    Labels,
}

/// <summary>One input of an op case.</summary>
public sealed record OpInput(int[] Shape, Sampling Sampling = Sampling.Uniform, int Classes = 0)
{
    public bool Differentiable => Sampling != Sampling.Labels;
}

/// <summary>
/// One line of the op table (PyTorch's OpInfo): the op applied to small inputs. The same table drives
/// the float64 gradient check, the float32-vs-float64 check and, later, CPU-vs-CUDA parity.
/// </summary>
public sealed record OpCase(string Name, OpInput[] Inputs, Func<Tensor[], Tensor> Run)
{
    /// <summary>Absolute tolerance of the gradient check.</summary>
    public double Atol { get; init; } = 1e-5;
    /// <summary>Relative tolerance of the gradient check.</summary>
    public double Rtol { get; init; } = 1e-3;
    /// <summary>Relative tolerance of float32 against float64.</summary>
    public double Float32Rtol { get; init; } = 2e-4;

    public override string ToString() => Name;
}
