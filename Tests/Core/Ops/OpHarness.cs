using Kiln.Core.Autograd;

namespace Kiln.Tests.Core.Ops;

/// <summary>Builds inputs for op cases and compares gradients with finite differences.</summary>
public static class OpHarness
{
    /// <summary>The inputs of a case as float64 host arrays (labels as integers stored in doubles).</summary>
    public static double[][] SampleInputs(OpCase c, ulong seed = 1234)
    {
        var rng = new RandomGenerator(seed);
        var result = new double[c.Inputs.Length][];
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var input = c.Inputs[i];
            int n = checked((int)Tensor.CountElementsOf(input.Shape));
            var v = new double[n];
            switch (input.Sampling)
            {
                case Sampling.Uniform: rng.Uniform<double>(v, -1, 1); break;
                case Sampling.Positive: rng.Uniform<double>(v, 0.5, 1.5); break;
                case Sampling.AwayFromZero:
                    rng.Uniform<double>(v, 0.1, 1);
                    for (int k = 0; k < n; k++) if (rng.NextDouble() < 0.5) v[k] = -v[k];
                    break;
                case Sampling.Distinct:
                    for (int k = 0; k < n; k++) v[k] = (k - n / 2.0) * (2.0 / n);
                    for (int k = n - 1; k > 0; k--)
                    {
                        int j = rng.NextInt(k + 1);
                        (v[k], v[j]) = (v[j], v[k]);
                    }
                    break;
                case Sampling.Labels:
                    for (int k = 0; k < n; k++) v[k] = rng.NextInt(input.Classes);
                    break;
            }
            result[i] = v;
        }
        return result;
    }

    /// <summary>Makes tensors of the given float dtype (labels as int32) from sampled data, on the CPU unless <paramref name="device"/> says otherwise.</summary>
    public static Tensor[] MakeTensors(OpCase c, double[][] data, DType dtype, bool requiresGrad, Device? device = null)
    {
        var ts = new Tensor[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            var input = c.Inputs[i];
            if (!input.Differentiable)
            {
                ts[i] = Tensor.FromArray(data[i].Select(d => (int)d).ToArray(), input.Shape, device);
                continue;
            }
            using var t64 = Tensor.FromArray(data[i], input.Shape, device);
            ts[i] = t64.To(dtype);
            ts[i].RequiresGrad = requiresGrad;
        }
        return ts;
    }

    /// <summary>Σ y ⊙ r computed on the host in double.</summary>
    public static double WeightedSum(Tensor y, double[] r)
    {
        using var y64 = y.To(DType.Float64);
        var v = y64.ToArray<double>();
        double s = 0;
        for (int i = 0; i < v.Length; i++) s += v[i] * r[i];
        return s;
    }

    /// <summary>The fixed random weighting r of the outputs.</summary>
    public static double[] OutputWeights(Tensor y, ulong seed = 99)
    {
        var r = new double[y.NumElements];
        new RandomGenerator(seed).Uniform<double>(r, -1, 1);
        return r;
    }

    /// <summary>Output and analytic input gradients of Σ y ⊙ r, in the given dtype, as float64 host arrays.</summary>
    public static (double[] Output, double[]?[] Grads) Evaluate(OpCase c, double[][] data, DType dtype, double[]? r = null, Device? device = null)
    {
        using var scope = TensorScope.Begin();
        var xs = MakeTensors(c, data, dtype, requiresGrad: true, device);
        var y = c.Run(xs);
        r ??= OutputWeights(y);
        using var r64 = Tensor.FromArray(r, y.Shape.ToArray(), y.Device);
        using var rT = r64.To(y.DType);
        y.Backward(rT);
        using var y64 = y.To(DType.Float64);
        var grads = new double[]?[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            if (!c.Inputs[i].Differentiable) continue;
            Assert.True(xs[i].Grad is not null, $"{c.Name}: input {i} got no gradient");
            using var g64 = xs[i].Grad!.To(DType.Float64);
            grads[i] = g64.ToArray<double>();
            xs[i].Grad!.Dispose();
        }
        return (y64.ToArray<double>(), grads);
    }

    /// <summary>
    /// Centred finite differences of Σ y ⊙ r in float64 against the analytic gradient, on every input
    /// element (or an evenly spread subset of <paramref name="maxPerInput"/> for large inputs).
    /// Returns a description of every mismatch; empty when the check passes.
    /// </summary>
    public static List<string> GradCheck(OpCase c, double h = 1e-6, int maxPerInput = 96)
    {
        var data = SampleInputs(c);
        var (output, grads) = Evaluate(c, data, DType.Float64);
        double[] r;
        using (var scope = TensorScope.Begin())
        using (GradMode.NoGrad())
        {
            var y = c.Run(MakeTensors(c, data, DType.Float64, false));
            r = OutputWeights(y);
        }
        var errors = new List<string>();
        for (int i = 0; i < data.Length; i++)
        {
            if (!c.Inputs[i].Differentiable) continue;
            int n = data[i].Length;
            int step = Math.Max(1, n / maxPerInput);
            for (int k = 0; k < n; k += step)
            {
                double saved = data[i][k];
                data[i][k] = saved + h;
                double plus = Loss(c, data, r);
                data[i][k] = saved - h;
                double minus = Loss(c, data, r);
                data[i][k] = saved;
                double numeric = (plus - minus) / (2 * h);
                double analytic = grads[i]![k];
                if (Math.Abs(analytic - numeric) > c.Atol + c.Rtol * Math.Abs(numeric))
                    errors.Add($"{c.Name}: input {i} {Tensor.ShapeString(c.Inputs[i].Shape)} element {k}: analytic {analytic:G8}, numeric {numeric:G8}");
            }
        }
        return errors;
    }

    private static double Loss(OpCase c, double[][] data, double[] r)
    {
        using var scope = TensorScope.Begin();
        using var _ = GradMode.NoGrad();
        return WeightedSum(c.Run(MakeTensors(c, data, DType.Float64, false)), r);
    }
}
