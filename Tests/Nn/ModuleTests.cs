using Kiln.Nn;

namespace Kiln.Tests.Nn;

public sealed class ModuleTests
{
    private sealed class Affine : Module
    {
        public Affine(int n)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([n]));
            RegisterBuffer("running_mean", Tensor.Zeros([n]));
        }

        public Parameter Weight { get; }
        public override Tensor Forward(Tensor x) => Op.Mul(x, Weight.Value);
    }

    [Fact]
    public void NamedParameters_FollowPyTorchDottedNames()
    {
        using var m = new Sequential(new Affine(2), new ReLU(), new Sequential(new Affine(3)));
        Assert.Equal(["0.weight", "2.0.weight"], m.NamedParameters().Select(p => p.Name));
        Assert.Equal(["0.weight", "0.running_mean", "2.0.weight", "2.0.running_mean"], m.StateDict().Select(p => p.Name));
        Assert.Equal(5, m.ParameterCount);
    }

    [Fact]
    public void TrainEval_Propagates_AndDropoutIsIdentityInEval()
    {
        using var m = new Sequential(new Dropout(0.5), new Sequential(new Dropout(0.5)));
        m.Eval();
        Assert.All(m.NamedChildren(), c => Assert.False(c.Module.IsTraining));
        using var scope = TensorScope.Begin();
        var x = Tensor.Ones([100]);
        Assert.Equal(x.ToArray<float>(), m.Forward(x).ToArray<float>());
        m.Train();
        Assert.Contains(0f, m.Forward(x).ToArray<float>());
    }

    [Fact]
    public void Parameters_SurviveScopes_AndCollectGradients()
    {
        using var m = new Affine(2);
        using (TensorScope.Begin())
        {
            var y = Op.Sum(m.Forward(Tensor.FromArray(new[] { 2f, 3f }, [2])));
            y.Backward();
        }
        Assert.Equal([2f, 3f], m.Weight.Grad!.ToArray<float>());
        m.ZeroGrad();
        Assert.Null(m.Weight.Grad);
    }

    [Fact]
    public void Init_Fans_AndKaimingStd()
    {
        Assert.Equal((27L, 576L), Init.Fans([64, 3, 3, 3]));
        Assert.Equal((100L, 10L), Init.Fans([10, 100]));
        using var scope = TensorScope.Begin();
        var w = Tensor.Empty([256, 128, 3, 3]);
        Init.KaimingNormal(w, generator: new RandomGenerator(5));
        var v = w.ToArray<float>();
        double std = Math.Sqrt(v.Select(x => (double)x * x).Average());
        Assert.InRange(std, Math.Sqrt(2.0 / 1152) * 0.98, Math.Sqrt(2.0 / 1152) * 1.02);
    }

    [Fact]
    public void DuplicateMemberNames_AreRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Twice());
        Assert.Contains("'w'", e.Message);
    }

    private sealed class Twice : Module
    {
        public Twice()
        {
            RegisterParameter("w", Tensor.Zeros([1]));
            RegisterParameter("w", Tensor.Zeros([1]));
        }

        public override Tensor Forward(Tensor x) => x;
    }
}
