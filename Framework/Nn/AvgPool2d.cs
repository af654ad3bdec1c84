namespace Kiln.Nn;

/// <summary>Average pooling; padding counts in the divisor unless <c>countIncludePad</c> is false.</summary>
public sealed class AvgPool2d(int kernel, int stride, int padding = 0, bool ceilMode = false, bool countIncludePad = true) : Module
{
    public Pool2dParams Geometry { get; } = Pool2dParams.Square(kernel, stride, padding, ceilMode, countIncludePad);

    public override Tensor Forward(Tensor x) => Op.AvgPool2d(x, Geometry);
}
