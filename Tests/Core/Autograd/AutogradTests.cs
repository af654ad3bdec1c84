using Kiln.Core.Autograd;

namespace Kiln.Tests.Core.Autograd;

public sealed class AutogradTests
{
    private static Tensor Leaf(params double[] v)
    {
        var t = Tensor.FromArray(v, [v.Length]);
        t.RequiresGrad = true;
        return t;
    }

    [Fact]
    public void Backward_InputUsedTwice_AccumulatesBothPaths()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2, 3);
        var y = Op.Sum(Op.Add(Op.Mul(x, x), Op.Scale(x, 3))); // Σ x² + 3x → grad 2x + 3
        y.Backward();
        Assert.Equal([5.0, 7.0, 9.0], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Backward_CalledTwiceOnNewGraphs_AccumulatesIntoGrad()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2);
        Op.Sum(Op.Scale(x, 2)).Backward();
        Op.Sum(Op.Scale(x, 2)).Backward();
        Assert.Equal([4.0, 4.0], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Backward_SecondTimeThroughFreedGraph_ThrowsClearError()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2);
        var y = Op.Sum(Op.Relu(x));
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("freed graph", e.Message);
        Assert.Contains("retainGraph", e.Message);
    }

    [Fact]
    public void Backward_WithRetainGraph_CanRunTwice()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, -2);
        var y = Op.Sum(Op.Relu(x));
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal([2.0, 0.0], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Backward_FromTensorThatNeedsNoGrad_Throws()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }, [2]);
        var e = Assert.Throws<InvalidOperationException>(() => Op.Sum(x).Backward());
        Assert.Contains("does not require grad", e.Message);
    }

    [Fact]
    public void Backward_FromNonScalarWithoutGradient_Throws()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2);
        var e = Assert.Throws<InvalidOperationException>(() => Op.Relu(x).Backward());
        Assert.Contains("(2)", e.Message);
    }

    [Fact]
    public void NoGrad_RecordsNothing()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2);
        Tensor y;
        using (GradMode.NoGrad()) y = Op.Sum(Op.Scale(x, 2));
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Fact]
    public void Backward_OnlyComputesGradientsForInputsThatNeedThem()
    {
        using var scope = TensorScope.Begin();
        var x = Leaf(1, 2);
        var c = Tensor.FromArray(new[] { 3.0, 4.0 }, [2]);
        Op.Sum(Op.Mul(x, c)).Backward();
        Assert.Equal([3.0, 4.0], x.Grad!.ToArray<double>());
        Assert.Null(c.Grad);
    }

    [Fact]
    public void GradCheck_CatchesAWrongBackward()
    {
        // An op whose backward is off by a factor: the checker must report it.
        var wrong = new Tests.Core.Ops.OpCase("wrong", [new([3, 4])], x =>
        {
            var y = Op.Scale(x[0], 2).Detach();
            return Tape.Record("wrong", y, [x[0]], dy => [Op.Scale(dy, 3)]);
        });
        Assert.NotEmpty(Tests.Core.Ops.OpHarness.GradCheck(wrong));
    }

    [Fact]
    public void GradCheck_CatchesATransposedGradient()
    {
        // Gradient returned in the wrong element order: the random output weighting exposes it.
        var wrong = new Tests.Core.Ops.OpCase("reversed", [new([6])], x =>
        {
            var y = Op.Scale(x[0], 1).Detach();
            return Tape.Record("reversed", y, [x[0]], dy => [Tensor.FromArray(dy.ToArray<double>().Reverse().ToArray(), [6])]);
        });
        Assert.NotEmpty(Tests.Core.Ops.OpHarness.GradCheck(wrong));
    }
}
