namespace Kiln.Data;

/// <summary>
/// The random numbers of one sample's augmentation: Philox words at counters derived from
/// (seed, stream, sample index), drawn in order. Nothing depends on which thread decodes the sample, so
/// the same seed gives the same augmentation on any number of workers.
/// See Note [Random streams] in <see cref="RandomGenerator"/>.
/// </summary>
public struct SampleRandom
{
    /// <summary>Counters reserved per sample: 64 words, enough for ten random-resized-crop attempts, a flip and lighting.</summary>
    public const int CountersPerSample = 16;

    private readonly ulong _seed, _stream, _offset;
    private int _next;

    public SampleRandom(ulong seed, ulong stream, long sampleIndex)
    {
        _seed = seed;
        _stream = stream;
        _offset = (ulong)sampleIndex * CountersPerSample;
        _next = 0;
    }

    /// <summary>The stream for a purpose within an epoch on a rank; purposes keep shard order, shuffle buffer and augmentation independent.</summary>
    public static ulong Stream(StreamPurpose purpose, int epoch, int rank) =>
        ((ulong)purpose << 56) | ((ulong)(uint)epoch << 24) | (uint)(rank & 0xFFFFFF);

    /// <summary>The next 32-bit word. Past the reserved block the draw moves into a far counter range, so it stays deterministic.</summary>
    public uint NextWord()
    {
        int i = _next++;
        return i < CountersPerSample * 4
            ? Philox.Word(_seed, _stream, _offset, i)
            : Philox.Word(_seed, _stream | (1UL << 55), _offset, i);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => Philox.ToUniform(NextWord());

    /// <summary>Uniform in [low, high).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [low, high] (inclusive, like Python's randint).</summary>
    public int NextInt(int low, int high)
    {
        if (high < low) throw new ArgumentException($"empty range [{low}, {high}]");
        return low + (int)(((ulong)NextWord() * (ulong)(high - low + 1)) >> 32);
    }

    /// <summary>Standard normal (Box-Muller; consumes two words).</summary>
    public double NextNormal()
    {
        double u1 = Philox.ToUniformOpenZero(NextWord());
        double u2 = Philox.ToUniform(NextWord());
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
