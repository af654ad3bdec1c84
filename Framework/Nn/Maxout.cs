namespace Kiln.Nn;

/// <summary>Max over groups of <c>groupSize</c> channels or features.</summary>
public sealed class Maxout(int groupSize) : Module
{
    public override Tensor Forward(Tensor x) => Op.Maxout(x, groupSize);
}
