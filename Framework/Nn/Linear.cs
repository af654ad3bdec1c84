namespace Kiln.Nn;

/// <summary>y = x·Wᵀ + b with weight (out, in) and bias (out), PyTorch's layout and default initialisation.</summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        Weight = RegisterParameter("weight", Tensor.Empty([outFeatures, inFeatures]));
        if (bias) Bias = RegisterParameter("bias", Tensor.Empty([outFeatures]));
        Init.Default(Weight.Value, Bias?.Value);
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Tensor Forward(Tensor x) => Op.Linear(x, Weight.Value, Bias?.Value);
}
