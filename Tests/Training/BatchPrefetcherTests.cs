using Kiln.Data;
using Kiln.Training;

namespace Kiln.Tests.Training;

/// <summary>
/// The order of uploads, takes and releases of the batch prefetcher (Note [Batch prefetch ordering]), with a fake device
/// that enforces the invariants a GPU relies on: a slot is never uploaded into while a step uses it, and a step takes
/// exactly the batch that was uploaded into its slot.
/// </summary>
public sealed class BatchPrefetcherTests
{
    private sealed class FakeUploader : IBatchUploader
    {
        public readonly List<string> Log = [];
        private readonly HostBatch?[] _uploaded = new HostBatch?[2];
        private readonly bool[] _inUse = new bool[2];
        public int FailUploadOf = -1;

        public void Upload(int slot, HostBatch batch)
        {
            Assert.False(_inUse[slot], $"upload of #{Id(batch)} into slot {slot} while a step uses it");
            if (Id(batch) == FailUploadOf) throw new IOException($"upload of #{FailUploadOf} failed");
            _uploaded[slot] = batch;
            Log.Add($"upload {slot} #{Id(batch)}");
        }

        public (Tensor X, Tensor Y) Take(int slot, HostBatch batch)
        {
            Assert.Same(_uploaded[slot], batch);
            Assert.False(_inUse[slot]);
            _inUse[slot] = true;
            Log.Add($"take {slot} #{Id(batch)}");
            return (Tensor.Zeros([1, 1, 1, 1]), Tensor.Zeros([1], DType.Int32));
        }

        public void Release(int slot)
        {
            _inUse[slot] = false;
            Log.Add($"release {slot}");
        }
    }

    private static int Id(HostBatch b) => b.Labels[0];

    /// <summary>Batches #0..#count-1; <paramref name="pulled"/> counts the ones the prefetcher asked for, <paramref name="disposed"/> lists returns to the pool.</summary>
    private static IEnumerable<HostBatch> Source(int count, List<int> disposed, Action? onPull = null)
    {
        for (int i = 0; i < count; i++)
        {
            onPull?.Invoke();
            var b = new HostBatch(new float[3], capacity: 1, views: 1, channels: 3, size: 1, returnToPool: x => disposed.Add(Id(x))) { Count = 1 };
            b.Labels[0] = i;
            yield return b;
        }
    }

    /// <summary>The trainer's use: take the slot, run the step, dispose the host batch.</summary>
    private static List<int> Consume(BatchPrefetcher prefetcher, IEnumerable<HostBatch> source, int stopAfter = int.MaxValue)
    {
        var seen = new List<int>();
        foreach (var (batch, slot) in prefetcher.Run(source))
        {
            using (batch)
            {
                using var scope = TensorScope.Begin();
                prefetcher.Uploader.Take(slot, batch);
                seen.Add(Id(batch));
            }
            if (seen.Count == stopAfter) break;
        }
        return seen;
    }

    [Fact]
    public void Run_UploadsTheNextBatchBeforeTheStep_AndReusesASlotOnlyAfterItsRelease()
    {
        var device = new FakeUploader();
        var disposed = new List<int>();
        Assert.Equal([0, 1, 2, 3, 4], Consume(new BatchPrefetcher(device), Source(5, disposed)));
        Assert.Equal(
        [
            "upload 0 #0", "upload 1 #1", "take 0 #0", "release 0",
            "upload 0 #2", "take 1 #1", "release 1",
            "upload 1 #3", "take 0 #2", "release 0",
            "upload 0 #4", "take 1 #3", "release 1",
            "take 0 #4", "release 0",
        ], device.Log);
        Assert.Equal([0, 1, 2, 3, 4], disposed);   // each host batch once, by the caller
    }

    [Fact]
    public void Run_StoppedEarly_ReleasesTheLastStep_AndDisposesTheBatchPulledAhead()
    {
        var device = new FakeUploader();
        var disposed = new List<int>();
        int pulled = 0;
        Assert.Equal([0, 1], Consume(new BatchPrefetcher(device), Source(5, disposed, () => pulled++), stopAfter: 2));
        Assert.Equal(["upload 0 #0", "upload 1 #1", "take 0 #0", "release 0", "upload 0 #2", "take 1 #1", "release 1"], device.Log);
        Assert.Equal(3, pulled);               // one ahead, no more
        Assert.Equal([0, 1, 2], disposed);     // #2 was uploaded but never handed out: back to the pool

        // The next epoch starts again at slot 0, which the abandoned upload used but no step holds.
        var next = new FakeUploader();
        Assert.Equal([0, 1, 2], Consume(new BatchPrefetcher(next), Source(3, [])));
    }

    [Fact]
    public void Run_EmptyAndSingleBatchSources()
    {
        var device = new FakeUploader();
        Assert.Empty(Consume(new BatchPrefetcher(device), Source(0, [])));
        Assert.Empty(device.Log);
        Assert.Equal([0], Consume(new BatchPrefetcher(device), Source(1, [])));
        Assert.Equal(["upload 0 #0", "take 0 #0", "release 0"], device.Log);
    }

    [Fact]
    public void Run_StepThrows_SlotReleased_BatchPulledAheadDisposed()
    {
        var device = new FakeUploader();
        var disposed = new List<int>();
        var prefetcher = new BatchPrefetcher(device);
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var (batch, slot) in prefetcher.Run(Source(4, disposed)))
                using (batch)
                {
                    using var scope = TensorScope.Begin();
                    prefetcher.Uploader.Take(slot, batch);
                    if (Id(batch) == 1) throw new InvalidOperationException("non-finite loss");
                }
        });
        Assert.Equal("release 1", device.Log[^1]);
        Assert.Equal([0, 1, 2], disposed);
    }

    [Fact]
    public void Run_UploadFails_NoBatchIsLeftUndisposed()
    {
        var disposed = new List<int>();
        var first = new FakeUploader { FailUploadOf = 0 };
        Assert.Throws<IOException>(() => Consume(new BatchPrefetcher(first), Source(3, disposed)));
        Assert.Equal([0], disposed);   // pulled, never handed out
        disposed.Clear();
        var ahead = new FakeUploader { FailUploadOf = 2 };
        Assert.Throws<IOException>(() => Consume(new BatchPrefetcher(ahead), Source(4, disposed)));
        Assert.Equal([0, 1, 2], disposed);
        Assert.Equal("release 0", ahead.Log[^1]);   // #2 failed to upload before #1 was handed out; both went back
    }
}
