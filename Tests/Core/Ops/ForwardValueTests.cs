namespace Kiln.Tests.Core.Ops;

/// <summary>Forward values of the elementwise, softmax and loss ops against hand-computed numbers.</summary>
public sealed class ForwardValueTests
{
    private static Tensor T(double[] v, params int[] shape) => Tensor.FromArray(v, shape);

    [Fact]
    public void Softmax_And_LogSoftmax_HandValues()
    {
        using var scope = TensorScope.Begin();
        var x = T([1, 2, 3, 1000, 1000, 1000], 2, 3);
        var y = Op.Softmax(x).ToArray<double>();
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(Math.Exp(1) / z, y[0], 12);
        Assert.Equal(Math.Exp(3) / z, y[2], 12);
        Assert.Equal(1.0 / 3, y[4], 12); // stable at large logits
        var ly = Op.LogSoftmax(x).ToArray<double>();
        Assert.Equal(1 - Math.Log(z), ly[0], 12);
        Assert.Equal(-Math.Log(3), ly[5], 12);
    }

    [Fact]
    public void CrossEntropy_HandValues_WithAndWithoutSmoothing()
    {
        using var scope = TensorScope.Begin();
        var x = T([2, 0, 0, 0, 0, 3], 2, 3);
        var labels = Tensor.FromArray(new[] { 0, 1 }, [2]);
        double lse0 = Math.Log(Math.Exp(2) + 2), lse1 = Math.Log(2 + Math.Exp(3));
        double loss0 = lse0 - 2, loss1 = lse1 - 0;
        Assert.Equal((loss0 + loss1) / 2, Op.CrossEntropy(x, labels).Item(), 12);
        // ε = 0.3: target 0.7 on the label plus 0.1 on each class.
        double s0 = lse0 - (0.7 * 2 + 0.1 * 2), s1 = lse1 - (0.7 * 0 + 0.1 * 3);
        Assert.Equal((s0 + s1) / 2, Op.CrossEntropy(x, labels, 0.3).Item(), 12);
    }

    [Fact]
    public void CrossEntropy_LabelOutOfRange_NamesSampleAndLabel()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([2, 3]);
        var labels = Tensor.FromArray(new[] { 0, 7 }, [2]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Op.CrossEntropy(x, labels));
        Assert.Contains("label 7 of sample 1", e.Message);
    }

    [Fact]
    public void Concat_And_Narrow_Values()
    {
        using var scope = TensorScope.Begin();
        var a = T([1, 2, 3, 4], 2, 1, 2);
        var b = T([5, 6, 7, 8, 9, 10, 11, 12], 2, 2, 2);
        var y = Op.Concat([a, b]);
        Assert.Equal([2, 3, 2], y.Shape.ToArray());
        Assert.Equal([1.0, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12], y.ToArray<double>());
        Assert.Equal([5.0, 6, 9, 10], Op.Narrow(y, 1, 1, 1).ToArray<double>());
        var e = Assert.Throws<ArgumentException>(() => Op.Concat([a, T([1, 2, 3], 1, 1, 3)]));
        Assert.Contains("(2, 1, 2)", e.Message);
    }

    [Fact]
    public void Maxout_L2Normalize_Relu_Values()
    {
        using var scope = TensorScope.Begin();
        Assert.Equal([3.0, 5.0], Op.Maxout(T([1, 3, -2, 5], 1, 4), 2).ToArray<double>());
        var n = Op.L2Normalize(T([3, 4], 1, 2)).ToArray<double>();
        Assert.Equal(0.6, n[0], 12);
        Assert.Equal(0.8, n[1], 12);
        Assert.Equal([0.0, 2.0], Op.Relu(T([-1, 2], 2)).ToArray<double>());
        Assert.Equal(2.5, Op.Mean(T([1, 2, 3, 4], 2, 2)).Item(), 12);
    }
}
