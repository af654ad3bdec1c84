using System.Runtime.InteropServices;

namespace Kiln.Nn;

/// <summary>Whether an initialiser scales by the fan-in or the fan-out.</summary>
public enum FanMode { FanIn, FanOut }

/// <summary>
/// Weight initialisers of the papers: Gaussian(std) (Krizhevsky et al. 2012: 0.01), Xavier/Glorot
/// (Glorot &amp; Bengio 2010), He/MSRA (He et al. 2015, fan-in or fan-out), and constants for biases.
/// Numbers come from a <see cref="RandomGenerator"/> (default: <see cref="RandomGenerator.Global"/>),
/// so a seed gives the same weights on any device and thread count.
/// </summary>
public static class Init
{
    /// <summary>Fans of a weight: (K, C, R, S) gives fan-in C·R·S and fan-out K·R·S; (out, in) gives in and out.</summary>
    public static (long FanIn, long FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2) return (shape.Length == 1 ? shape[0] : 1, shape.Length == 1 ? shape[0] : 1);
        long receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    public static void Normal(Tensor t, double std, double mean = 0, RandomGenerator? generator = null) =>
        Draw(t, (g, f) => g.Normal<float>(f, mean, std), (g, d) => g.Normal<double>(d, mean, std), generator);

    public static void Uniform(Tensor t, double low, double high, RandomGenerator? generator = null) =>
        Draw(t, (g, f) => g.Uniform<float>(f, low, high), (g, d) => g.Uniform<double>(d, low, high), generator);

    public static void Constant(Tensor t, double value) => Backend.Of(t).Fill(t, value);

    /// <summary>U(−b, b) with b = gain·√(6 / (fan_in + fan_out)).</summary>
    public static void XavierUniform(Tensor t, double gain = 1, RandomGenerator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        double b = gain * Math.Sqrt(6.0 / (fi + fo));
        Uniform(t, -b, b, generator);
    }

    /// <summary>N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).</summary>
    public static void XavierNormal(Tensor t, double gain = 1, RandomGenerator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        Normal(t, gain * Math.Sqrt(2.0 / (fi + fo)), 0, generator);
    }

    /// <summary>N(0, σ²) with σ = gain / √fan; gain √2 suits ReLU (He et al. 2015).</summary>
    public static void KaimingNormal(Tensor t, FanMode mode = FanMode.FanIn, double gain = 1.4142135623730951, RandomGenerator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        Normal(t, gain / Math.Sqrt(mode == FanMode.FanIn ? fi : fo), 0, generator);
    }

    /// <summary>U(−b, b) with b = gain·√(3 / fan).</summary>
    public static void KaimingUniform(Tensor t, FanMode mode = FanMode.FanIn, double gain = 1.4142135623730951, RandomGenerator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        double b = gain * Math.Sqrt(3.0 / (mode == FanMode.FanIn ? fi : fo));
        Uniform(t, -b, b, generator);
    }

    /// <summary>
    /// PyTorch's default for conv and linear layers: weight and bias U(−1/√fan_in, 1/√fan_in)
    /// (kaiming_uniform with a = √5 reduces to this bound).
    /// </summary>
    public static void Default(Tensor weight, Tensor? bias, RandomGenerator? generator = null)
    {
        double b = 1 / Math.Sqrt(Math.Max(1, Fans(weight.Shape).FanIn));
        Uniform(weight, -b, b, generator);
        if (bias is not null) Uniform(bias, -b, b, generator);
    }

    /// <summary>
    /// Draws on the host in the tensor's own dtype (the numbers are computed in double and rounded, so
    /// float32 and float64 weights agree) and copies them to the tensor's device.
    /// </summary>
    private static void Draw(Tensor t, Action<RandomGenerator, Span<float>> f32, Action<RandomGenerator, Span<double>> f64, RandomGenerator? generator)
    {
        if (!t.IsContiguous) throw new ArgumentException($"initialisers need a contiguous tensor, got {t}");
        var g = generator ?? RandomGenerator.Global;
        switch (t.DType)
        {
            case DType.Float64: DrawInto(t, g, f64); break;
            case DType.Float32: DrawInto(t, g, f32); break;
            default: throw new ArgumentException($"initialisers need a float32 or float64 tensor, got {t.DType.Name()}");
        }
    }

    /// <summary>
    /// Draws straight into a host tensor (a host array as large as VGG's fc6, 411 MB, would stay in the GC heap), or
    /// into a host array that is then copied to the tensor's device.
    /// </summary>
    private static void DrawInto<T>(Tensor t, RandomGenerator g, Action<RandomGenerator, Span<T>> draw) where T : unmanaged
    {
        if (t.Device.Type == DeviceType.Cpu)
        {
            draw(g, Kiln.Backends.Cpu.CpuBackend.Data<T>(t));
            return;
        }
        var host = new T[t.NumElements];
        draw(g, host);
        Backend.Of(t).CopyFromHost(MemoryMarshal.AsBytes(host.AsSpan()), t);
    }
}
