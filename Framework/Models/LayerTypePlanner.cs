using Kiln.Nn;

namespace Kiln.Models;

/// <summary>
/// The layer types of the network language: for each, the keys it takes, its output shape,
/// parameter shapes and multiply-adds, and how to make and run it. One switch, one method per type.
/// </summary>
internal static class LayerTypePlanner
{
    public static void Fill(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        var n = p.InputShapes.Count;
        if (p.Type is not ("concat" or "add") && n != 1)
        {
            problem($"'{p.Type}' takes one input, got {n}: {string.Join(", ", p.Inputs)}");
            return;
        }
        switch (p.Type)
        {
            case "conv": Conv(p, a, problem); break;
            case "linear": Linear(p, a, problem); break;
            case "batchnorm": BatchNorm(p, a, problem); break;
            case "relu": Same(p, (xs, _) => Op.Relu(xs[0])); break;
            case "softmax": Same(p, (xs, _) => Op.Softmax(xs[0])); break;
            case "dropout":
                double rate = a.Double("p", 0.5);
                if (rate is < 0 or >= 1) problem($"dropout rate p must be in [0, 1), got {rate}");
                Same(p, (xs, training) => Op.Dropout(xs[0], rate, training, RandomGenerator.Global));
                break;
            case "flatten":
                p.OutputShape = [p.InputShapes[0].Aggregate(1, (x, d) => x * d)];
                p.Bind = _ => (xs, _) => Op.Flatten(xs[0]);
                break;
            case "lrn": Lrn(p, a, problem); break;
            case "maxpool": Pool(p, a, problem, max: true); break;
            case "avgpool": Pool(p, a, problem, max: false); break;
            case "global_avgpool":
                if (!Image(p, problem)) return;
                p.OutputShape = [p.InputShapes[0][0], 1, 1];
                p.Kernel = $"{p.InputShapes[0][1]}x{p.InputShapes[0][2]}";
                p.Bind = _ => (xs, _) => Op.GlobalAvgPool2d(xs[0]);
                break;
            case "maxout":
                int group = a.Int("group", null, 1);
                int c = p.InputShapes[0][0];
                if (c % group != 0) problem($"shape mismatch: maxout group {group} must divide the {c} channels of input {Shape(p.InputShapes[0])}");
                p.OutputShape = [.. p.InputShapes[0]];
                p.OutputShape[0] = c / group;
                p.Bind = _ => (xs, _) => Op.Maxout(xs[0], group);
                break;
            case "concat": Concat(p, problem); break;
            case "add": Add(p, problem); break;
            case "pad_shortcut": PadShortcut(p, a, problem); break;
            default: problem($"layer type '{p.Type}' has no planner"); break;
        }
    }

    internal static string Shape(int[] s) => "(" + string.Join(", ", s) + ")";

    private static void Same(LayerPlan p, Func<Tensor[], bool, Tensor> run)
    {
        p.OutputShape = [.. p.InputShapes[0]];
        p.Bind = _ => run;
    }

    private static bool Image(LayerPlan p, Action<string> problem)
    {
        if (p.InputShapes[0].Length == 3) return true;
        problem($"shape mismatch: '{p.Type}' needs an image input (C, H, W), got {Shape(p.InputShapes[0])} from '{p.Inputs[0]}'");
        return false;
    }

    /// <summary>Initialiser and learning options shared by conv and linear.</summary>
    private sealed record Learn(string Init, double Std, FanMode Mode, double? BiasValue, double LrMult, double DecayMult,
        double BiasLrMult, double BiasDecayMult, double? MaxFilterRms)
    {
        public static Learn Read(LayerArgs a, bool filters) => new(
            a.Choice("init", "default", "default", "gaussian", "xavier", "kaiming"),
            a.Double("std", 0.01),
            a.Choice("mode", "fan_in", "fan_in", "fan_out") == "fan_out" ? FanMode.FanOut : FanMode.FanIn,
            a.OptionalDouble("bias_init"),
            a.Double("lr_mult", 1), a.Double("decay_mult", 1),
            a.Double("bias_lr_mult", 1), a.Double("bias_decay_mult", 1),
            filters ? a.OptionalDouble("max_filter_rms") : null);

        public void Apply(Parameter weight, Parameter? bias)
        {
            switch (Init)
            {
                case "gaussian": Nn.Init.Normal(weight.Value, Std); break;
                case "xavier": Nn.Init.XavierUniform(weight.Value); break;
                case "kaiming": Nn.Init.KaimingNormal(weight.Value, Mode); break;
            }
            // With an explicit initialiser the bias starts at bias_init (0 unless given), as in Caffe's fillers.
            if (bias is not null && (BiasValue is not null || Init != "default")) Nn.Init.Constant(bias.Value, BiasValue ?? 0);
            weight.LrMultiplier = LrMult;
            weight.DecayMultiplier = DecayMult;
            weight.MaxFilterRms = MaxFilterRms;
            if (bias is null) return;
            bias.LrMultiplier = BiasLrMult;
            bias.DecayMultiplier = BiasDecayMult;
        }
    }

    private static void Conv(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        int k = a.Int("out", null, 1);
        var (r, s) = a.Pair("kernel", null, 1);
        var stride = a.Pair("stride", (1, 1), 1);
        var pad = a.Pair("padding", (0, 0), 0);
        var dil = a.Pair("dilation", (1, 1), 1);
        int groups = a.Int("groups", 1, 1);
        bool bias = a.Bool("bias", true);
        int? declared = a.Has("in") ? a.Int("in", 0) : null;
        var learn = Learn.Read(a, filters: true);
        if (!Image(p, problem)) return;
        var x = p.InputShapes[0];
        int c = x[0];
        if (declared is not null && declared != c)
            problem($"shape mismatch: declared in: {declared} channels, but input '{p.Inputs[0]}' is {Shape(x)}");
        if (c % groups != 0 || k % groups != 0)
        {
            problem($"shape mismatch: groups {groups} must divide the input channels ({Shape(x)} from '{p.Inputs[0]}') and out {k}");
            return;
        }
        int outH = (x[1] + 2 * pad.H - dil.H * (r - 1) - 1) / stride.H + 1;
        int outW = (x[2] + 2 * pad.W - dil.W * (s - 1) - 1) / stride.W + 1;
        if (x[1] + 2 * pad.H < dil.H * (r - 1) + 1 || x[2] + 2 * pad.W < dil.W * (s - 1) + 1)
        {
            problem($"shape mismatch: input {Shape(x)} from '{p.Inputs[0]}' is smaller than the {r}x{s} kernel with padding {pad.H}x{pad.W}");
            return;
        }
        var geometry = new Conv2dParams(stride, pad, dil, groups);
        p.OutputShape = [k, outH, outW];
        p.Parameters = bias ? [("weight", [k, c / groups, r, s]), ("bias", [k])] : [("weight", [k, c / groups, r, s])];
        p.MultiplyAdds = (long)k * (c / groups) * r * s * outH * outW;
        p.Kernel = $"{r}x{s}/{(stride.H == stride.W ? stride.H.ToString() : $"{stride.H}x{stride.W}")}" + (groups > 1 ? $" g{groups}" : "");
        p.CreateModule = () =>
        {
            var m = new Nn.Conv2d(c, k, (r, s), geometry, bias, defaultInit: learn.Init == "default");
            learn.Apply(m.Weight, m.Bias);
            return m;
        };
        p.Bind = m => (xs, _) => m!.Forward(xs[0]);
    }

    private static void Linear(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        int k = a.Int("out", null, 1);
        bool bias = a.Bool("bias", true);
        int? declared = a.Has("in") ? a.Int("in", 0) : null;
        var learn = Learn.Read(a, filters: false);
        var x = p.InputShapes[0];
        int f = x.Aggregate(1, (u, d) => u * d);
        if (declared is not null && declared != f)
            problem($"shape mismatch: declared in: {declared} features, but input '{p.Inputs[0]}' is {Shape(x)} ({f} features)");
        bool flatten = x.Length > 1;
        p.OutputShape = [k];
        p.Parameters = bias ? [("weight", [k, f]), ("bias", [k])] : [("weight", [k, f])];
        p.MultiplyAdds = (long)k * f;
        p.CreateModule = () =>
        {
            var m = new Nn.Linear(f, k, bias, defaultInit: learn.Init == "default");
            learn.Apply(m.Weight, m.Bias);
            return m;
        };
        p.Bind = m => (xs, _) => m!.Forward(flatten ? Op.Flatten(xs[0]) : xs[0]);
    }

    private static void BatchNorm(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        double eps = a.Double("eps", 1e-5), momentum = a.Double("momentum", 0.1);
        bool zeroInit = a.Bool("zero_init", false);
        if (!Image(p, problem)) return;
        int c = p.InputShapes[0][0];
        p.OutputShape = [.. p.InputShapes[0]];
        p.Parameters = [("weight", [c]), ("bias", [c])];
        p.CreateModule = () =>
        {
            var m = new Nn.BatchNorm2d(c, eps, momentum);
            if (zeroInit) Nn.Init.Constant(m.Weight!.Value, 0);
            return m;
        };
        p.Bind = m => (xs, _) => m!.Forward(xs[0]);
    }

    private static void Lrn(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        int size = a.Int("size", 5, 1);
        double alpha = a.Double("alpha", 1e-4), beta = a.Double("beta", 0.75), k = a.Double("k", 1);
        var scaling = a.Choice("alpha_scaling", "divided_by_size", "divided_by_size", "as_written") == "as_written"
            ? LrnAlphaScaling.AsWritten : LrnAlphaScaling.DividedBySize;
        if (!Image(p, problem)) return;
        p.Kernel = $"n{size}";
        Same(p, (xs, _) => Op.LocalResponseNorm(xs[0], size, alpha, beta, k, scaling));
    }

    private static void Pool(LayerPlan p, LayerArgs a, Action<string> problem, bool max)
    {
        var kernel = a.Pair("kernel", null, 1);
        var stride = a.Pair("stride", kernel, 1);
        var pad = a.Pair("padding", (0, 0), 0);
        bool ceil = a.Bool("ceil", false);
        bool includePad = !max && a.Bool("count_include_pad", true);
        if (!Image(p, problem)) return;
        var x = p.InputShapes[0];
        if (pad.H > kernel.H / 2 || pad.W > kernel.W / 2)
        {
            problem($"padding {pad.H}x{pad.W} must be at most half the kernel {kernel.H}x{kernel.W}");
            return;
        }
        var g = new Pool2dParams(kernel.H, kernel.W, stride.H, stride.W, pad.H, pad.W, ceil, includePad);
        int h = g.OutputHeight(x[1]), w = g.OutputWidth(x[2]);
        if (h < 1 || w < 1)
        {
            problem($"shape mismatch: input {Shape(x)} from '{p.Inputs[0]}' is smaller than the {kernel.H}x{kernel.W} window");
            return;
        }
        p.OutputShape = [x[0], h, w];
        p.Kernel = $"{kernel.H}x{kernel.W}/{stride.H}" + (ceil ? " ceil" : "");
        p.PoolGeometry = g;
        p.Bind = _ => max ? (xs, _) => Op.MaxPool2d(xs[0], g) : (xs, _) => Op.AvgPool2d(xs[0], g);
    }

    private static string Described(LayerPlan p) =>
        string.Join(", ", p.Inputs.Zip(p.InputShapes, (n, s) => $"'{n}' {Shape(s)}"));

    private static void Concat(LayerPlan p, Action<string> problem)
    {
        var shapes = p.InputShapes;
        if (shapes.Any(s => s.Length != shapes[0].Length) ||
            shapes.Any(s => !s.AsSpan(1).SequenceEqual(shapes[0].AsSpan(1))))
        {
            problem($"shape mismatch: concat needs inputs that differ only in channels, got {Described(p)}");
            return;
        }
        p.OutputShape = [.. shapes[0]];
        p.OutputShape[0] = shapes.Sum(s => s[0]);
        p.Bind = _ => (xs, _) => xs.Length == 1 ? xs[0] : Op.Concat(xs, 1);
    }

    private static void Add(LayerPlan p, Action<string> problem)
    {
        var shapes = p.InputShapes;
        if (shapes.Count < 2) { problem($"add needs two or more inputs, got {shapes.Count}"); return; }
        if (shapes.Any(s => !s.AsSpan().SequenceEqual(shapes[0])))
        {
            problem($"shape mismatch: add needs equal shapes, got {Described(p)}");
            return;
        }
        p.OutputShape = [.. shapes[0]];
        p.Bind = _ => (xs, _) =>
        {
            var y = Op.Add(xs[0], xs[1]);
            for (int i = 2; i < xs.Length; i++) y = Op.Add(y, xs[i]);
            return y;
        };
    }

    /// <summary>
    /// He et al. 2015's option A shortcut (CIFAR ResNets): every stride-th pixel, then zero channels
    /// added on both sides up to <c>out</c> (half before, half after, as the common CIFAR ports do).
    /// A composite of pooling with a 1x1 window and concatenation, so it needs no kernel of its own.
    /// </summary>
    private static void PadShortcut(LayerPlan p, LayerArgs a, Action<string> problem)
    {
        int k = a.Int("out", null, 1);
        int stride = a.Int("stride", 1, 1);
        if (!Image(p, problem)) return;
        var x = p.InputShapes[0];
        if (k < x[0])
        {
            problem($"shape mismatch: pad_shortcut out {k} is fewer than the {x[0]} channels of input {Shape(x)}");
            return;
        }
        int before = (k - x[0]) / 2, after = k - x[0] - before;
        var g = Pool2dParams.Square(1, stride, 0, false);
        p.OutputShape = [k, g.OutputHeight(x[1]), g.OutputWidth(x[2])];
        p.Kernel = $"1x1/{stride}";
        p.Bind = _ => (xs, _) =>
        {
            var y = stride == 1 ? xs[0] : Op.MaxPool2d(xs[0], g);
            if (before == 0 && after == 0) return y;
            var parts = new List<Tensor>(3);
            int n = y.Size(0), h = y.Size(2), w = y.Size(3);
            if (before > 0) parts.Add(Tensor.Zeros([n, before, h, w], y.DType, y.Device));
            parts.Add(y);
            if (after > 0) parts.Add(Tensor.Zeros([n, after, h, w], y.DType, y.Device));
            return Op.Concat([.. parts], 1);
        };
    }
}
