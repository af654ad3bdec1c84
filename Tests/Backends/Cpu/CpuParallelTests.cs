using Kiln.Backends.Cpu;

namespace Kiln.Tests.Backends.Cpu;

/// <summary>
/// Note [Spinning workers]: every item runs exactly once, regions follow each other without losing a wake-up,
/// callers on several threads and nested regions complete, and a body's exception reaches the caller. Each test
/// runs under a time limit, so a lost wake-up fails instead of hanging the suite.
/// </summary>
public sealed class CpuParallelTests
{
    private static void WithinSeconds(int seconds, Action run)
    {
        var task = Task.Run(run);
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"CpuParallel did not finish within {seconds} s (a lost wake-up?)");
    }

    [Fact]
    public void For_ManyShortRegions_EachItemRunsOnce()
    {
        WithinSeconds(60, () =>
        {
            var counts = new int[8];
            for (int region = 0; region < 20_000; region++)
            {
                int n = 2 + region % 7;
                Array.Clear(counts);
                CpuParallel.For(n, i => Interlocked.Increment(ref counts[i]));
                for (int i = 0; i < counts.Length; i++)
                    Assert.True(counts[i] == (i < n ? 1 : 0), $"region {region}: item {i} ran {counts[i]} times");
                // Now and then let the workers give up spinning and block, to exercise the wake-up path.
                if (region % 500 == 0) Thread.Sleep(1);
            }
        });
    }

    [Fact]
    public void For_CallersOnSeveralThreads_AllComplete()
    {
        WithinSeconds(60, () =>
        {
            long total = 0;
            var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                for (int region = 0; region < 2_000; region++)
                    CpuParallel.For(5, _ => Interlocked.Increment(ref total));
            })).ToArray();
            Task.WaitAll(callers);
            Assert.Equal(4L * 2_000 * 5, total);
        });
    }

    [Fact]
    public void For_NestedRegion_RunsItsItems()
    {
        WithinSeconds(30, () =>
        {
            var counts = new int[4 * 6];
            CpuParallel.For(4, outer => CpuParallel.For(6, inner => Interlocked.Increment(ref counts[outer * 6 + inner])));
            Assert.All(counts, c => Assert.Equal(1, c));
        });
    }

    [Fact]
    public void For_BodyThrows_TheCallerGetsTheException_AndTheOtherItemsRan()
    {
        WithinSeconds(30, () =>
        {
            var ran = new int[6];
            var ex = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(6, i =>
            {
                Interlocked.Increment(ref ran[i]);
                if (i == 2) throw new InvalidOperationException("item 2");
            }));
            Assert.Equal("item 2", ex.Message);
            Assert.All(ran, r => Assert.Equal(1, r));
            // The workers are still usable afterwards.
            int after = 0;
            CpuParallel.For(3, _ => Interlocked.Increment(ref after));
            Assert.Equal(3, after);
        });
    }
}
