namespace Kiln.Core;

/// <summary>
/// A seeded generator over Philox 4x32-10.
///
/// Note [Random streams]: the generator's state is (seed, offset). Each draw of n numbers uses the
/// counters offset .. offset + ceil(n / 4) - 1 and then advances the offset past them, so number i
/// of a draw depends only on (seed, offset, i): the same on any thread count and, with the same
/// formula in a CUDA kernel, on the GPU. Normals use Box-Muller on lane pairs (0,1) and (2,3).
/// The state is two integers, so checkpoints store it exactly.
/// </summary>
public sealed class RandomGenerator
{
    public RandomGenerator(ulong seed, ulong offset = 0)
    {
        Seed = seed;
        Offset = offset;
    }

    public ulong Seed { get; private set; }

    /// <summary>
    /// The process-wide generator used where none is given (initialisers, dropout), like
    /// torch.manual_seed's default generator. Reseed it with <see cref="ManualSeed"/>.
    /// </summary>
    public static RandomGenerator Global { get; } = new(0);

    /// <summary>Restarts this generator at <paramref name="seed"/>, offset 0.</summary>
    public void ManualSeed(ulong seed)
    {
        Seed = seed;
        Offset = 0;
    }

    /// <summary>The next unused counter.</summary>
    public ulong Offset { get; set; }

    /// <summary>Reserves the counters for <paramref name="count"/> numbers and returns the first one's offset.</summary>
    public ulong Reserve(long count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        ulong start = Offset;
        Offset += (ulong)((count + 3) / 4);
        return start;
    }

    /// <summary>Fills with uniform numbers in [low, high).</summary>
    public void Uniform<T>(Span<T> dst, double low = 0, double high = 1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ulong off = Reserve(dst.Length);
        double scale = high - low;
        for (int i = 0; i < dst.Length; i++)
            dst[i] = T.CreateTruncating(low + scale * Philox.ToUniform(Philox.Word(Seed, 0, off, i)));
    }

    /// <summary>Fills with normal numbers N(mean, std^2).</summary>
    public void Normal<T>(Span<T> dst, double mean = 0, double std = 1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ulong off = Reserve(dst.Length);
        for (int i = 0; i < dst.Length; i++)
            dst[i] = T.CreateTruncating(mean + std * NormalAt(Seed, off, i));
    }

    /// <summary>Normal number i of the draw at <paramref name="offset"/> (Box-Muller on a lane pair).</summary>
    public static double NormalAt(ulong seed, ulong offset, long i)
    {
        long pairBase = i & ~1L; // lanes (0,1) or (2,3) of one counter
        double u1 = Philox.ToUniformOpenZero(Philox.Word(seed, 0, offset, pairBase));
        double u2 = Philox.ToUniform(Philox.Word(seed, 0, offset, pairBase + 1));
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double theta = 2.0 * Math.PI * u2;
        return (i & 1) == 0 ? r * Math.Cos(theta) : r * Math.Sin(theta);
    }

    /// <summary>A uniform integer in [0, n) (rejection-free multiply-shift; bias below 2^-32 * n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        ulong off = Reserve(1);
        return (int)(((ulong)Philox.Word(Seed, 0, off, 0) * (ulong)n) >> 32);
    }

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => Philox.ToUniform(Philox.Word(Seed, 0, Reserve(1), 0));
}
