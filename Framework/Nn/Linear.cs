namespace Kiln.Nn;

/// <summary>y = x·Wᵀ + b with weight (out, in) and bias (out), PyTorch's layout and default initialisation.</summary>
public sealed class Linear : Module
{
    /// <summary>With <c>defaultInit</c> false the values are left uninitialised, for a caller that initialises them itself.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, bool defaultInit = true)
    {
        Weight = RegisterParameter("weight", Tensor.Empty([outFeatures, inFeatures]));
        if (bias) Bias = RegisterParameter("bias", Tensor.Empty([outFeatures]));
        if (defaultInit) Init.Default(Weight.Value, Bias?.Value);
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Tensor Forward(Tensor x) => Op.Linear(x, Weight.Value, Bias?.Value);
}
