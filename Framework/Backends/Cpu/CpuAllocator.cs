using System.Runtime.InteropServices;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Note [Host caching allocator]: touching freshly allocated pages costs about 12 us per 4 KiB on the
/// machines we measured (a new 32 MiB buffer: ~100 ms to fill, a reused one: under 1 ms), so freed
/// blocks are kept in per-size free lists and handed out again. A training step asks for the same
/// sizes every step, so after the first step it allocates nothing from the OS.
/// Sizes are rounded up to 64 bytes (small) or to a 1/8-of-power-of-two class (large) to limit waste.
/// Note [Huge pages]: on Linux, blocks of 2 MiB and more start on a 2 MiB boundary and are advised
/// MADV_HUGEPAGE (the kernel's transparent huge pages are usually in "madvise" mode): one page fault per 2 MiB
/// instead of 512, and fewer TLB misses for loops that read many planes at once. Measured on the 2-core dev VM
/// (2026-11-26), 64 MiB: first fill 7-15 ms instead of 26-32 (the very first huge block took 142 ms, the kernel
/// compacting memory), a second fill 2.3-2.5 ms instead of 3.1-3.6.
/// Note [Large blocks: best fit, split and merge]: per-size free lists cannot lend a block of one size to a request of
/// another, so a step held the sum over sizes of each size's own peak, not the peak of the sum: ResNet-50 at batch 8
/// held 1297 MiB for a peak of 1030 MiB live. Blocks of 1 MiB and more therefore come from segments (one OS allocation
/// each, as large as the request that created it) that are split and merged as PyTorch's CUDA caching allocator does:
/// a request takes the smallest free block that fits (best fit), split when 1 MiB or more would be left over, and a
/// returned block merges with free neighbours of its segment. Small blocks keep the exact-size lists.
/// </summary>
public static unsafe partial class CpuAllocator
{
    private const int Alignment = 64;
    private const long HugePage = 2 << 20;
    private const int MadvHugePage = 14;   // MADV_HUGEPAGE, <asm-generic/mman-common.h>

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<long, Stack<nint>> s_free = [];
    private static long s_liveBytes, s_reservedBytes, s_peakLiveBytes, s_liveBlocks;

    /// <summary>Bytes handed out and not yet returned.</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);
    /// <summary>Number of blocks handed out and not yet returned.</summary>
    public static long LiveBlocks => Interlocked.Read(ref s_liveBlocks);
    /// <summary>Bytes obtained from the OS: live plus cached.</summary>
    public static long ReservedBytes => Interlocked.Read(ref s_reservedBytes);
    /// <summary>Highest <see cref="LiveBytes"/> since start or <see cref="ResetPeak"/>.</summary>
    public static long PeakLiveBytes => Interlocked.Read(ref s_peakLiveBytes);

    private static Dictionary<nint, long>? s_tracked;

    /// <summary>
    /// When on, every live block's size is recorded, so a leak can be described by
    /// <see cref="LiveBlockSizes"/> (off by default: it costs a dictionary update per allocation).
    /// </summary>
    public static bool TrackLiveBlocks
    {
        get => s_tracked is not null;
        set { lock (s_lock) s_tracked = value ? s_tracked ?? [] : null; }
    }

    /// <summary>Live blocks counted by rounded size (empty unless <see cref="TrackLiveBlocks"/> was on when they were allocated).</summary>
    public static SortedDictionary<long, int> LiveBlockSizes()
    {
        var result = new SortedDictionary<long, int>();
        lock (s_lock)
            foreach (var size in s_tracked?.Values ?? Enumerable.Empty<long>())
                result[size] = result.GetValueOrDefault(size) + 1;
        return result;
    }

    /// <summary>When false, blocks go straight back to the OS (for debugging with native tools).</summary>
    public static bool CachingEnabled { get; set; } = true;

    public static void ResetPeak() => Interlocked.Exchange(ref s_peakLiveBytes, LiveBytes);

    internal static long RoundSize(long bytes)
    {
        if (bytes <= 0) return Alignment;
        if (bytes <= 1 << 16) return (bytes + Alignment - 1) & ~(long)(Alignment - 1);
        // Classes of 1/8 of the next power of two below: at most 12.5% waste.
        long pow = 1L << (63 - BitOperations.LeadingZeroCount((ulong)bytes));
        long step = pow / 8;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Blocks from this size up come from split-and-merge segments (Note [Large blocks: best fit, split and merge]).</summary>
    internal const long LargeBlock = 1 << 20;

    private static readonly LargeBlockPool s_large = new(AllocateFromOs, FreeToOs);

    internal static nint Rent(long bytes, out long rounded)
    {
        rounded = RoundSize(bytes);
        nint p = 0;
        lock (s_lock)
        {
            if (rounded >= LargeBlock && CachingEnabled) p = s_large.Take(ref rounded);
            else if (s_free.TryGetValue(rounded, out var stack) && stack.Count > 0) p = stack.Pop();
        }
        if (p == 0) p = AllocateFromOs(rounded);
        if (s_tracked is not null) lock (s_lock) s_tracked?.TryAdd(p, rounded);
        long live = Interlocked.Add(ref s_liveBytes, rounded);
        Interlocked.Increment(ref s_liveBlocks);
        long peak;
        while (live > (peak = Interlocked.Read(ref s_peakLiveBytes)) &&
               Interlocked.CompareExchange(ref s_peakLiveBytes, live, peak) != peak) { }
        return p;
    }

    private static nint AllocateFromOs(long bytes)
    {
        bool huge = bytes >= HugePage && OperatingSystem.IsLinux();
        nint p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, huge ? (nuint)HugePage : Alignment);
        if (p == 0)
            throw new OutOfMemoryException($"host allocation of {bytes} bytes failed ({ReservedBytes} bytes reserved by Kiln)");
        if (huge) Madvise(p, (nuint)bytes, MadvHugePage);   // advice only: where it is refused, 4 KiB pages work as before
        Interlocked.Add(ref s_reservedBytes, bytes);
        return p;
    }

    private static void FreeToOs(nint p, long bytes)
    {
        NativeMemory.AlignedFree((void*)p);
        Interlocked.Add(ref s_reservedBytes, -bytes);
    }

    internal static void Return(nint p, long rounded)
    {
        if (s_tracked is not null) lock (s_lock) s_tracked?.Remove(p);
        Interlocked.Add(ref s_liveBytes, -rounded);
        Interlocked.Decrement(ref s_liveBlocks);
        lock (s_lock)
            if (s_large.Put(p)) return;
        if (CachingEnabled)
        {
            lock (s_lock)
            {
                if (!s_free.TryGetValue(rounded, out var stack)) s_free[rounded] = stack = new Stack<nint>();
                stack.Push(p);
            }
            return;
        }
        FreeToOs(p, rounded);
    }

    /// <summary>Gives every cached block back to the OS (a large block only with its whole segment).</summary>
    public static void EmptyCache()
    {
        lock (s_lock)
        {
            foreach (var (size, stack) in s_free)
                while (stack.Count > 0)
                {
                    NativeMemory.AlignedFree((void*)stack.Pop());
                    Interlocked.Add(ref s_reservedBytes, -size);
                }
            s_free.Clear();
            s_large.ReleaseFreeSegments();
        }
    }
}
