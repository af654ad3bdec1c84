namespace Kiln.Nn;

/// <summary>Softmax over the last dimension.</summary>
public sealed class Softmax : Module
{
    public override Tensor Forward(Tensor x) => Op.Softmax(x);
}
