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

    /// <summary>Below this many numbers a draw runs on the calling thread.</summary>
    private const int ParallelThreshold = 1 << 16;

    /// <summary>Fills with uniform numbers in [low, high).</summary>
    public void Uniform<T>(Span<T> dst, double low = 0, double high = 1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ulong off = Reserve(dst.Length);
        double scale = high - low;
        ulong seed = Seed;
        ForBlocks(dst, (span, first) =>
        {
            // One Philox block gives four numbers: element i uses counter off + i/4, lane i%4.
            for (int i = 0; i < span.Length; i += 4)
            {
                ulong counter = off + (ulong)((first + i) >> 2);
                var (a, b, c, d) = Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));
                int n = Math.Min(4, span.Length - i);
                span[i] = T.CreateTruncating(low + scale * Philox.ToUniform(a));
                if (n > 1) span[i + 1] = T.CreateTruncating(low + scale * Philox.ToUniform(b));
                if (n > 2) span[i + 2] = T.CreateTruncating(low + scale * Philox.ToUniform(c));
                if (n > 3) span[i + 3] = T.CreateTruncating(low + scale * Philox.ToUniform(d));
            }
        });
    }

    /// <summary>Fills with normal numbers N(mean, std^2).</summary>
    public void Normal<T>(Span<T> dst, double mean = 0, double std = 1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ulong off = Reserve(dst.Length);
        ulong seed = Seed;
        ForBlocks(dst, (span, first) =>
        {
            for (int i = 0; i < span.Length; i += 4)
            {
                ulong counter = off + (ulong)((first + i) >> 2);
                var (a, b, c, d) = Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));
                var (n0, n1) = BoxMuller(a, b);
                var (n2, n3) = BoxMuller(c, d);
                int n = Math.Min(4, span.Length - i);
                span[i] = T.CreateTruncating(mean + std * n0);
                if (n > 1) span[i + 1] = T.CreateTruncating(mean + std * n1);
                if (n > 2) span[i + 2] = T.CreateTruncating(mean + std * n2);
                if (n > 3) span[i + 3] = T.CreateTruncating(mean + std * n3);
            }
        });
    }

    private delegate void BlockBody<T>(Span<T> span, long firstIndex);

    /// <summary>
    /// Runs body over [0, n) in chunks that start on multiples of 4 (one Philox block each), in parallel
    /// for large draws. Each number depends only on its index, so the result is the same on any thread count.
    /// </summary>
    private static unsafe void ForBlocks<T>(Span<T> dst, BlockBody<T> body) where T : unmanaged
    {
        if (dst.Length < ParallelThreshold)
        {
            body(dst, 0);
            return;
        }
        const int chunk = ParallelThreshold;
        int chunks = (dst.Length + chunk - 1) / chunk;
        int length = dst.Length;
        fixed (T* p = dst)
        {
            nint ip = (nint)p;
            Parallel.For(0, chunks, c =>
            {
                int start = c * chunk;
                body(new Span<T>((T*)ip + start, Math.Min(chunk, length - start)), start);
            });
        }
    }

    /// <summary>Box-Muller on two words: (r cos θ, r sin θ).</summary>
    private static (double, double) BoxMuller(uint w0, uint w1)
    {
        double r = Math.Sqrt(-2.0 * Math.Log(Philox.ToUniformOpenZero(w0)));
        double theta = 2.0 * Math.PI * Philox.ToUniform(w1);
        return (r * Math.Cos(theta), r * Math.Sin(theta));
    }

    /// <summary>Normal number i of the draw at <paramref name="offset"/> (Box-Muller on a lane pair).</summary>
    public static double NormalAt(ulong seed, ulong offset, long i)
    {
        long pairBase = i & ~1L; // lanes (0,1) or (2,3) of one counter
        var (n0, n1) = BoxMuller(Philox.Word(seed, 0, offset, pairBase), Philox.Word(seed, 0, offset, pairBase + 1));
        return (i & 1) == 0 ? n0 : n1;
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
