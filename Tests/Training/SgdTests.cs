using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Tests.Training;

public sealed class SgdTests
{
    /// <summary>Runs steps on w with fixed gradients and a learning rate per step; returns w after each step.</summary>
    private static List<double[]> Run(SgdOptions o, double[] w0, double[][] grads, double[] lrs, double lrMult = 1, double decayMult = 1)
    {
        using var p = new Parameter(Tensor.FromArray(w0, [w0.Length])) { LrMultiplier = lrMult, DecayMultiplier = decayMult };
        using var sgd = new Sgd([p], o);
        var result = new List<double[]>();
        for (int s = 0; s < grads.Length; s++)
        {
            p.Value.Grad = Tensor.FromArray(grads[s], [w0.Length]).MoveOutOfScope();
            sgd.LearningRate = lrs[s];
            sgd.Step();
            sgd.ZeroGrad();
            result.Add(p.Value.ToArray<double>());
        }
        return result;
    }

    [Theory]
    [InlineData(MomentumForm.PyTorch, false, 0.9)]
    [InlineData(MomentumForm.PyTorch, true, 0.9)]
    [InlineData(MomentumForm.Caffe, false, 0.9)]
    [InlineData(MomentumForm.Caffe, true, 0.9)]
    [InlineData(MomentumForm.PyTorch, false, 0.0)]
    public void Kernel_VectorsAndChunks_SameBitsAsTheScalarFormula(MomentumForm form, bool nesterov, double momentum)
    {
        // 200,003 elements: several parallel chunks of 2^16, vector bodies and a scalar tail.
        const int n = 200_003;
        const float lr = 0.05f, wd = 5e-4f;
        var rng = new RandomGenerator(11);
        float[] w = new float[n], g = new float[n], v = new float[n];
        rng.Uniform<float>(w, -1, 1);
        rng.Uniform<float>(g, -1, 1);
        rng.Uniform<float>(v, -1, 1);
        var (ew, ev) = ((float[])w.Clone(), (float[])v.Clone());
        float mu = (float)momentum;
        for (int i = 0; i < n; i++)
        {
            float grad = g[i] + wd * ew[i];
            if (momentum == 0) { ew[i] -= lr * grad; continue; }
            if (form == MomentumForm.PyTorch)
            {
                float vel = mu * ev[i] + grad;
                ev[i] = vel;
                ew[i] -= lr * (nesterov ? grad + mu * vel : vel);
            }
            else
            {
                float old = ev[i], vel = mu * old - lr * grad;
                ev[i] = vel;
                ew[i] += nesterov ? (1f + mu) * vel - mu * old : vel;
            }
        }
        using var scope = TensorScope.Begin();
        var (tw, tg, tv) = (Tensor.FromArray(w, [n]), Tensor.FromArray(g, [n]), Tensor.FromArray(v, [n]));
        Kiln.Backends.Cpu.CpuBackend.Instance.SgdUpdate(tw, tg, momentum == 0 ? null : tv, lr, momentum, wd, nesterov, form);
        Assert.True(tw.ToArray<float>().AsSpan().SequenceEqual(ew), "weights differ from the scalar formula");
        if (momentum != 0) Assert.True(tv.ToArray<float>().AsSpan().SequenceEqual(ev), "velocity differs from the scalar formula");
    }

    [Fact]
    public void PyTorchForm_MomentumAndDecay_HandComputed()
    {
        var o = new SgdOptions { Momentum = 0.9, WeightDecay = 0.1, Form = MomentumForm.PyTorch };
        var w = Run(o, [1.0], [[0.5], [0.5]], [0.1, 0.1]);
        // step 1: g' = 0.5 + 0.1·1 = 0.6; v = 0.6; w = 1 − 0.06 = 0.94
        Assert.Equal(0.94, w[0][0], 12);
        // step 2: g' = 0.5 + 0.094 = 0.594; v = 0.54 + 0.594 = 1.134; w = 0.94 − 0.1134
        Assert.Equal(0.94 - 0.1134, w[1][0], 12);
    }

    [Fact]
    public void CaffeForm_MomentumAndDecay_HandComputed()
    {
        var o = new SgdOptions { Momentum = 0.9, WeightDecay = 0.1, Form = MomentumForm.Caffe };
        var w = Run(o, [1.0], [[0.5], [0.5]], [0.1, 0.1]);
        // step 1: v = −0.1·0.6 = −0.06; w = 0.94; step 2: v = −0.054 − 0.0594 = −0.1134
        Assert.Equal(0.94, w[0][0], 12);
        Assert.Equal(0.94 - 0.1134, w[1][0], 12);
    }

    [Fact]
    public void Forms_AgreeAtConstantRate_AndDifferWhenTheRateDrops()
    {
        double[][] g = [[0.3], [-0.2], [0.4]];
        var py = new SgdOptions { Momentum = 0.9, Form = MomentumForm.PyTorch };
        var caffe = py with { Form = MomentumForm.Caffe };
        Assert.Equal(Run(py, [1.0], g, [0.1, 0.1, 0.1])[2][0], Run(caffe, [1.0], g, [0.1, 0.1, 0.1])[2][0], 12);
        double a = Run(py, [1.0], g, [0.1, 0.01, 0.01])[2][0];
        double b = Run(caffe, [1.0], g, [0.1, 0.01, 0.01])[2][0];
        Assert.True(Math.Abs(a - b) > 1e-3, $"PyTorch {a} and Caffe {b} forms should differ after a rate change");
    }

    [Fact]
    public void Nesterov_BothForms_HandComputed()
    {
        var py = new SgdOptions { Momentum = 0.5, Nesterov = true, Form = MomentumForm.PyTorch };
        var w = Run(py, [0.0], [[1.0], [1.0]], [1, 1]);
        // v1 = 1, w1 = −(1 + 0.5) = −1.5; v2 = 1.5, w2 = −1.5 − (1 + 0.75) = −3.25
        Assert.Equal(-1.5, w[0][0], 12);
        Assert.Equal(-3.25, w[1][0], 12);
        var caffe = py with { Form = MomentumForm.Caffe };
        var c = Run(caffe, [0.0], [[1.0], [1.0]], [1, 1]);
        // v1 = −1, w1 = 1.5·(−1) − 0 = −1.5; v2 = −1.5, w2 = −1.5 + 1.5·(−1.5) + 0.5 = −3.25
        Assert.Equal(-1.5, c[0][0], 12);
        Assert.Equal(-3.25, c[1][0], 12);
    }

    [Fact]
    public void Multipliers_ScaleRateAndDecay()
    {
        var o = new SgdOptions { WeightDecay = 1 };
        // lr 0.1 × 2, decay 1 × 0: w = 1 − 0.2·0.5
        var w = Run(o, [1.0], [[0.5]], [0.1], lrMult: 2, decayMult: 0);
        Assert.Equal(0.9, w[0][0], 12);
    }

    [Fact]
    public void FilterRmsCap_RenormalisesOnlyFiltersAboveIt()
    {
        using var p = new Parameter(Tensor.FromArray(new[] { 3.0, 4.0, 0.1, 0.1 }, [2, 2])) { MaxFilterRms = 1 };
        using var sgd = new Sgd([p], new SgdOptions { LearningRate = 0 });
        p.Value.Grad = Tensor.Zeros([2, 2], DType.Float64).MoveOutOfScope();
        sgd.Step();
        var w = p.Value.ToArray<double>();
        double rms = Math.Sqrt((w[0] * w[0] + w[1] * w[1]) / 2);
        Assert.Equal(1.0, rms, 12);
        Assert.Equal(0.6, w[0] / w[1] * 0.8, 12); // direction kept: 3:4
        Assert.Equal([0.1, 0.1], w[2..]);
        sgd.ZeroGrad();
    }

    [Fact]
    public void BadOptions_AreRejected()
    {
        using var p = new Parameter(Tensor.Zeros([1]));
        Assert.Throws<ArgumentException>(() => new Sgd([p], new SgdOptions { Nesterov = true }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([p], new SgdOptions { Momentum = 1.5 }));
    }
}
