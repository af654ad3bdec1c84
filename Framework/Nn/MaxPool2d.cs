namespace Kiln.Nn;

/// <summary>Max pooling; <c>ceilMode</c> rounds the output size up as Caffe and GoogLeNet do.</summary>
public sealed class MaxPool2d(int kernel, int stride, int padding = 0, bool ceilMode = false) : Module
{
    public Pool2dParams Geometry { get; } = Pool2dParams.Square(kernel, stride, padding, ceilMode);

    public override Tensor Forward(Tensor x) => Op.MaxPool2d(x, Geometry);
}
