using Kiln.Backends.Cuda;
using Kiln.Backends.Cuda.Interop;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>The caching logic, on a fake device (no GPU needed); the driver-backed path is in CudaGpuTests.</summary>
public sealed class CudaAllocatorTests
{
    private sealed class FakeMemory(long capacity) : IDeviceMemory
    {
        private readonly Dictionary<ulong, long> _live = [];
        private ulong _next = 0x7f00_0000_0000;
        public long Used { get; private set; }
        public int Allocations { get; private set; }
        public int Frees { get; private set; }

        public CUresult Allocate(out ulong pointer, long sizeBytes)
        {
            pointer = 0;
            if (Used + sizeBytes > capacity) return CUresult.CUDA_ERROR_OUT_OF_MEMORY;
            pointer = _next;
            _next += (ulong)sizeBytes;
            _live[pointer] = sizeBytes;
            Used += sizeBytes;
            Allocations++;
            return CUresult.CUDA_SUCCESS;
        }

        public void Free(ulong pointer)
        {
            Used -= _live[pointer];
            _live.Remove(pointer);
            Frees++;
        }

        public (long FreeBytes, long TotalBytes) Info() => (capacity - Used, capacity);
    }

    [Fact]
    public void Allocate_ReusesFreedBlockOfSameSizeClass()
    {
        var mem = new FakeMemory(1 << 30);
        var alloc = new CudaAllocator(mem, "cuda:0");
        var a = alloc.Allocate(1000);
        ulong p = a.Pointer;
        a.Dispose();
        var b = alloc.Allocate(900);   // same 1024-byte class
        Assert.Equal(p, b.Pointer);
        Assert.Equal(1, mem.Allocations);
        Assert.Equal(1, alloc.CacheHits);
        b.Dispose();
    }

    [Fact]
    public void Stats_TrackAllocatedReservedPeakAndLiveBuffers()
    {
        var alloc = new CudaAllocator(new FakeMemory(1 << 30), "cuda:0");
        var a = alloc.Allocate(4096);
        var b = alloc.Allocate(8192);
        Assert.Equal(4096 + 8192, alloc.AllocatedBytes);
        Assert.Equal(2, alloc.LiveBuffers);
        a.Dispose();
        Assert.Equal(8192, alloc.AllocatedBytes);
        Assert.Equal(4096 + 8192, alloc.ReservedBytes);
        Assert.Equal(4096 + 8192, alloc.PeakAllocatedBytes);
        alloc.ResetPeak();
        Assert.Equal(8192, alloc.PeakAllocatedBytes);
        b.Dispose();
        b.Dispose();   // idempotent
        Assert.Equal(0, alloc.LiveBuffers);
        alloc.EmptyCache();
        Assert.Equal(0, alloc.ReservedBytes);
    }

    [Fact]
    public void OutOfMemory_EmptiesCacheAndRetriesOnce()
    {
        var mem = new FakeMemory(3 << 20);
        var alloc = new CudaAllocator(mem, "cuda:0");
        alloc.Allocate(2 << 20).Dispose();   // cached, still reserved
        using var big = alloc.Allocate(2560 * 1024);   // does not fit beside the cached block
        Assert.Equal(1, mem.Frees);
        Assert.Equal(2, mem.Allocations);
    }

    [Fact]
    public void OutOfMemory_AfterRetry_NamesRequestFreeTotalAndSuggestsSmallerBatch()
    {
        var alloc = new CudaAllocator(new FakeMemory(1 << 30), "cuda:0");
        using var held = alloc.Allocate(512 << 20);
        var e = Assert.Throws<CudaException>(() => alloc.Allocate(2L << 30));
        Assert.Equal(2, e.Status);
        Assert.Contains("CUDA_ERROR_OUT_OF_MEMORY", e.Message);
        Assert.Contains("2.00 GiB", e.Message);     // requested
        Assert.Contains("512.00 MiB free", e.Message);
        Assert.Contains("1.00 GiB total", e.Message);
        Assert.Contains("smaller batch", e.Message);
        Assert.Contains("cuda:0", e.Message);
    }

    [Theory]
    [InlineData(0, 512)]
    [InlineData(1, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (1 << 17))]
    [InlineData(100_000_000, 100_663_296)]
    public void RoundSize_UsesSizeClasses(long bytes, long expected) => Assert.Equal(expected, CudaAllocator.RoundSize(bytes));
}
