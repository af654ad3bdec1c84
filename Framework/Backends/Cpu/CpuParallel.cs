namespace Kiln.Backends.Cpu;

/// <summary>
/// Coarse-grained parallel loops for the CPU kernels. Work is split into chunks whose boundaries
/// depend only on the problem size, never on the thread count, so per-chunk partial results
/// combined in chunk order are reproducible on any number of threads.
/// Note [Spinning workers]: a training step runs hundreds of short parallel regions (ResNet-20: ~0.1-4 ms each).
/// Through Parallel.For each cost 8-22 us back to back and 17-50 us after a millisecond of serial work, with
/// stalls of over a millisecond one time in ten (the thread pool parks its threads), measured on the 2-core VM.
/// So regions run on dedicated workers that spin briefly for the next region before they block, as OpenMP's do,
/// and the calling thread takes items too. One region runs at a time; a caller that finds the workers busy (tests
/// run in parallel) or a region started inside a region runs its items through Parallel.For / in order instead.
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
        int threads = s_threads;
        if (count == 1 || threads == 1 || WorkerPool.InRegion)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        if (WorkerPool.TryRun(count, body, Math.Min(threads, count))) return;
        try { Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body); }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Throw the body's own exception, as the workers do.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
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

    /// <summary>The workers of Note [Spinning workers].</summary>
    private static class WorkerPool
    {
        private static readonly object s_runLock = new();
        private static readonly List<Worker> s_workers = [];
        private static Action<int>? s_body;
        private static int s_count, s_next, s_participants, s_finished;
        private static long s_generation;
        private static Exception? s_error;
        [ThreadStatic] private static bool t_inRegion;
        /// <summary>How long a worker spins for the next region before it blocks (300 and 2000 us measured no better).</summary>
        private const double SpinMicroseconds = 50;

        public static bool InRegion => t_inRegion;

        /// <summary>Runs the region on the workers and this thread; false if another region holds the workers.</summary>
        public static bool TryRun(int count, Action<int> body, int participants)
        {
            if (!Monitor.TryEnter(s_runLock)) return false;
            try
            {
                while (s_workers.Count < participants - 1) s_workers.Add(new Worker(s_workers.Count));
                s_body = body;
                s_count = count;
                s_next = 0;
                s_error = null;
                s_participants = participants - 1;
                Volatile.Write(ref s_finished, 0);
                Interlocked.Increment(ref s_generation);   // publishes the fields above
                for (int w = 0; w < s_participants; w++) s_workers[w].Wake();
                RunItems();
                var spin = new SpinWait();
                while (Volatile.Read(ref s_finished) < s_participants) spin.SpinOnce(sleep1Threshold: -1);
                s_body = null;
                if (s_error is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
                return true;
            }
            finally
            {
                Monitor.Exit(s_runLock);
            }
        }

        private static void RunItems()
        {
            var body = s_body!;
            t_inRegion = true;
            try
            {
                int i;
                while ((i = Interlocked.Increment(ref s_next) - 1) < s_count)
                {
                    try { body(i); }
                    catch (Exception e) { Interlocked.CompareExchange(ref s_error, e, null); }
                }
            }
            finally { t_inRegion = false; }
        }

        private sealed class Worker
        {
            private readonly int _index;
            private readonly SemaphoreSlim _wake = new(0);
            private readonly long _born;   // the generation before the worker's first region (read under the run lock)
            private int _sleeping;

            public Worker(int index)
            {
                _index = index;
                _born = Volatile.Read(ref s_generation);
                new Thread(Loop) { IsBackground = true, Name = $"kiln-cpu-{index + 1}" }.Start();
            }

            public void Wake()
            {
                if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
            }

            private void Loop()
            {
                long seen = _born;
                while (true)
                {
                    // Spin about 50 us for the next region (a step's regions follow each other closely), then block.
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    while (Volatile.Read(ref s_generation) == seen)
                    {
                        if (System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds < SpinMicroseconds) { Thread.SpinWait(20); continue; }
                        // A full fence between announcing sleep and the last look: with a plain store, x86 may let
                        // the look pass the store, and a region published in between would wake nobody.
                        Interlocked.Exchange(ref _sleeping, 1);
                        if (Volatile.Read(ref s_generation) != seen) { Volatile.Write(ref _sleeping, 0); break; }
                        _wake.Wait();   // a stale release only makes the loop look again
                        start = System.Diagnostics.Stopwatch.GetTimestamp();
                    }
                    seen = Volatile.Read(ref s_generation);
                    if (_index >= s_participants) continue;
                    RunItems();
                    Interlocked.Increment(ref s_finished);
                }
            }
        }
    }
}
