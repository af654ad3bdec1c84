using Kiln.Backends.Cpu;

namespace Kiln.Tests.Backends.Cpu;

/// <summary>
/// The host caching allocator's large blocks: best fit, split and merge (Note [Large blocks: best fit, split and merge]).
/// The pool is tested on its own with made-up addresses, so what other tests left cached cannot change the answers.
/// </summary>
public sealed unsafe class CpuAllocatorTests
{
    private const long MiB = 1 << 20;

    /// <summary>A pool whose segments are made-up addresses 1 GiB apart, with a log of what it asked the OS for.</summary>
    private static (LargeBlockPool Pool, List<long> Allocated, List<long> Freed) Pool()
    {
        var allocated = new List<long>();
        var freed = new List<long>();
        nint next = unchecked((nint)(1L << 40));
        var pool = new LargeBlockPool(size => { allocated.Add(size); var p = next; next += unchecked((nint)(1L << 30)); return p; }, (_, size) => freed.Add(size));
        return (pool, allocated, freed);
    }

    private static nint Take(LargeBlockPool pool, long bytes, out long size)
    {
        size = bytes;
        return pool.Take(ref size);
    }

    [Fact]
    public void AFreedSegment_ServesTwoHalves_ThenMergesBackForTheWhole()
    {
        var (pool, allocated, _) = Pool();
        nint whole = Take(pool, 24 * MiB, out long s);
        Assert.True(pool.Put(whole));
        nint a = Take(pool, 12 * MiB, out long sa);
        nint b = Take(pool, 12 * MiB, out long sb);
        Assert.Equal([24 * MiB], allocated);              // both halves from the freed segment
        Assert.Equal((whole, whole + (nint)(12 * MiB)), (a, b));
        Assert.Equal((12 * MiB, 12 * MiB), (sa, sb));
        Assert.Empty(pool.FreeSizes);

        pool.Put(b);
        pool.Put(a);                                       // merges with b's free run
        Assert.Equal([24 * MiB], pool.FreeSizes);
        Assert.Equal(whole, Take(pool, 24 * MiB, out _));
        Assert.Single(allocated);
    }

    [Fact]
    public void BestFit_TakesTheSmallestBlockThatFits_AndKeepsARemainderUnderMinSplit()
    {
        var (pool, allocated, _) = Pool();
        nint big = Take(pool, 40 * MiB, out _);
        nint small = Take(pool, 10 * MiB, out _);
        pool.Put(big);
        pool.Put(small);

        Assert.Equal(small, Take(pool, 9 * MiB + 512 * 1024, out long s1));   // the 10 MiB block, not a piece of the 40
        Assert.Equal(10 * MiB, s1);                                          // half a MiB left over: not split off
        Assert.Equal([40 * MiB], pool.FreeSizes);

        Assert.Equal(big, Take(pool, 36 * MiB, out long s2));
        Assert.Equal(36 * MiB, s2);
        Assert.Equal([4 * MiB], pool.FreeSizes);                            // the rest, free for others
        Assert.Equal(big + (nint)(36 * MiB), Take(pool, 3 * MiB, out _));
        Assert.Equal(2, allocated.Count);
        Assert.False(pool.Put(12345));                                       // not one of its blocks
    }

    [Fact]
    public void MergesWithBothNeighbours_AndReleasesOnlyWholeSegments()
    {
        var (pool, _, freed) = Pool();
        nint seg = Take(pool, 48 * MiB, out _);
        pool.Put(seg);
        nint a = Take(pool, 16 * MiB, out _), b = Take(pool, 16 * MiB, out _), c = Take(pool, 16 * MiB, out _);
        Assert.Equal([seg, seg + (nint)(16 * MiB), seg + (nint)(32 * MiB)], new[] { a, b, c });
        pool.Put(a);
        pool.Put(c);
        pool.ReleaseFreeSegments();                        // b is in use: the segment stays
        Assert.Empty(freed);
        Assert.Equal([16 * MiB, 16 * MiB], pool.FreeSizes);
        pool.Put(b);                                       // merges with a on the left and c on the right
        Assert.Equal([48 * MiB], pool.FreeSizes);
        pool.ReleaseFreeSegments();
        Assert.Equal([48 * MiB], freed);
        Assert.Empty(pool.FreeSizes);
    }

    [Fact]
    public void Segments_NeverMerge_WithEachOther()
    {
        var (pool, allocated, _) = Pool();
        nint first = Take(pool, 8 * MiB, out _);
        nint second = Take(pool, 8 * MiB, out _);
        pool.Put(first);
        pool.Put(second);
        Assert.Equal([8 * MiB, 8 * MiB], pool.FreeSizes);   // two segments: a 16 MiB request needs a third
        Take(pool, 16 * MiB, out _);
        Assert.Equal(3, allocated.Count);
    }
}

/// <summary>The allocator itself, with its process-wide counters.</summary>
[Collection(MemoryCollection.Name)]
public sealed unsafe class CpuAllocatorLiveTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void CpuAllocator_LargeBlocksAreRealMemory_AndCountedLive()
    {
        long live = CpuAllocator.LiveBytes;
        nint a = CpuAllocator.Rent(3 * MiB + 1, out long sa);
        nint b = CpuAllocator.Rent(5 * MiB, out long sb);
        Assert.True(sa >= 3 * MiB + 1 && sa < 4 * MiB);
        Assert.Equal(live + sa + sb, CpuAllocator.LiveBytes);
        new Span<byte>((void*)a, (int)sa).Fill(0xA1);
        new Span<byte>((void*)b, (int)sb).Fill(0xB2);
        Assert.False(new Span<byte>((void*)a, (int)sa).ContainsAnyExcept((byte)0xA1));   // no overlap
        CpuAllocator.Return(a, sa);
        CpuAllocator.Return(b, sb);
        Assert.Equal(live, CpuAllocator.LiveBytes);
    }
}
