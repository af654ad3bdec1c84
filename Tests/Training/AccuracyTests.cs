using Kiln.Training;

namespace Kiln.Tests.Training;

public sealed class AccuracyTests
{
    [Fact]
    public void CountTopK_HandComputed_TiesGoToTheLowerClass()
    {
        using var scope = TensorScope.Begin();
        var logits = Tensor.FromArray(new float[]
        {
            0.1f, 0.9f, 0.0f, 0.3f,   // label 1: best                         -> top1, top2
            0.5f, 0.5f, 0.2f, 0.1f,   // label 1: tied with class 0, which wins -> rank 1: top2 only
            0.5f, 0.5f, 0.2f, 0.1f,   // label 0: tied with class 1, wins       -> top1
            0.4f, 0.3f, 0.2f, 0.1f,   // label 3: last                          -> neither
        }, [4, 4]);
        var labels = Tensor.FromArray([1, 1, 0, 3], [4]);
        Assert.Equal(2, Accuracy.CountTopK(logits, labels, 1));
        Assert.Equal(3, Accuracy.CountTopK(logits, labels, 2));
        Assert.Equal(4, Accuracy.CountTopK(logits, labels, 4));
        Assert.Equal((2, 4), Accuracy.CountTop1And5(logits, labels));   // 4 classes: top-5 is capped at 4
        using var l64 = logits.To(DType.Float64);
        Assert.Equal(3, Accuracy.CountTopK(l64, labels, 2));
    }

    [Fact]
    public void CountTopK_RejectsBadArguments()
    {
        using var scope = TensorScope.Begin();
        var logits = Tensor.Zeros([2, 3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Accuracy.CountTopK(logits, Tensor.FromArray([0, 1], [2]), 4));
        Assert.Throws<ArgumentException>(() => Accuracy.CountTopK(logits, Tensor.FromArray([0, 1, 2], [3]), 1));
        Assert.Throws<ArgumentException>(() => Accuracy.CountTopK(logits, Tensor.Zeros([2]), 1));
    }

    [Fact]
    public void AnyNonFinite_FindsNaNAndInf_InAnyTensor_IncludingStridedViews()
    {
        using var scope = TensorScope.Begin();
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var b = Tensor.FromArray(new double[] { 1, -2 }, [2]);
        Assert.False(Op.AnyNonFinite([a, b]));
        var nan = Tensor.FromArray(new float[] { 1, float.NaN, 3, 4, 5, 6 }, [2, 3]);
        Assert.True(Op.AnyNonFinite([a, b, nan]));
        var inf = Tensor.FromArray(new double[] { double.NegativeInfinity, 0 }, [2]);
        Assert.True(Op.AnyNonFinite([inf]));
        var strided = Tensor.FromArray(new float[] { 1, 2, float.PositiveInfinity, 4 }, [2, 2]).View([2], [2], 1);   // column 1: 2, 4
        Assert.False(Op.AnyNonFinite([strided]));
        Assert.True(Op.AnyNonFinite([Tensor.FromArray(new float[] { 1, 2, float.PositiveInfinity, 4 }, [2, 2]).View([2], [2], 0)]));   // column 0: 1, inf
        Assert.Throws<ArgumentException>(() => Op.AnyNonFinite([Tensor.FromArray([1, 2], [2])]));
    }
}
