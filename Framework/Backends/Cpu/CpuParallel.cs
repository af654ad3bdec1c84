namespace Kiln.Backends.Cpu;

/// <summary>
/// Coarse-grained parallel loops for the CPU kernels. Work is split into chunks whose boundaries
/// depend only on the problem size, never on the thread count, so per-chunk partial results
/// combined in chunk order are reproducible on any number of threads.
/// </summary>
public static class CpuParallel
{
    private static int s_threads = Environment.ProcessorCount;

    /// <summary>Worker threads used by CPU kernels (default: all cores). Set 1 for single-threaded runs.</summary>
    public static int Threads
    {
        get => s_threads;
        set => s_threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "at least one thread");
    }

    /// <summary>Runs body(i) for i in [0, count); in parallel when there is more than one item and thread.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || s_threads == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = s_threads }, body);
    }

    /// <summary>Number of chunks of at least <paramref name="minChunk"/> items for <paramref name="n"/> items.</summary>
    public static int ChunkCount(long n, long minChunk) => (int)Math.Max(1, Math.Min(4096, n / Math.Max(1, minChunk)));

    /// <summary>Splits [0, n) into <paramref name="chunks"/> near-equal ranges and runs body(chunk, start, length).</summary>
    public static void ForRanges(long n, int chunks, Action<int, long, long> body)
    {
        For(chunks, c =>
        {
            long start = n * c / chunks, end = n * (c + 1) / chunks;
            body(c, start, end - start);
        });
    }
}
