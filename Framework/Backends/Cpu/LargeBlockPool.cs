namespace Kiln.Backends.Cpu;

/// <summary>
/// The large blocks of the host caching allocator (Note [Large blocks: best fit, split and merge] in CpuAllocator):
/// segments from <c>allocate</c>, each as large as the request that created it, split to serve smaller requests and
/// merged again when their pieces come back. Not thread-safe: CpuAllocator calls it under its lock.
/// </summary>
internal sealed class LargeBlockPool(Func<long, nint> allocate, Action<nint, long> free)
{
    /// <summary>A piece of a segment; Prev and Next are its neighbours in the segment (null at the segment's ends).</summary>
    private sealed class Block
    {
        public nint Ptr;
        public long Size;
        public bool Free;
        public Block? Prev, Next;
    }

    private readonly Dictionary<nint, Block> _live = [];
    private readonly SortedSet<Block> _free = new(Comparer<Block>.Create((a, b) =>
        a.Size != b.Size ? a.Size.CompareTo(b.Size) : a.Ptr.CompareTo(b.Ptr)));

    /// <summary>A split is made only when at least this much would be left over; a smaller rest stays with the block.</summary>
    public long MinSplit { get; init; } = 1 << 20;

    /// <summary>Sizes of the free blocks (a free block is a merged run of a segment).</summary>
    public IEnumerable<long> FreeSizes => _free.Select(b => b.Size);

    /// <summary>
    /// A block of at least <paramref name="size"/> bytes: the smallest free one that fits (best fit), split when
    /// <see cref="MinSplit"/> or more would be left over, else a new segment. Its size is written back.
    /// </summary>
    public nint Take(ref long size)
    {
        Block? best = null;
        foreach (var b in _free.GetViewBetween(new Block { Size = size, Ptr = nint.MinValue }, new Block { Size = long.MaxValue, Ptr = nint.MaxValue }))
        {
            best = b;
            break;
        }
        if (best is null)
        {
            best = new Block { Ptr = allocate(size), Size = size };   // a new segment, all in use
        }
        else
        {
            _free.Remove(best);
            if (best.Size - size >= MinSplit)
            {
                var rest = new Block { Ptr = best.Ptr + (nint)size, Size = best.Size - size, Free = true, Prev = best, Next = best.Next };
                if (best.Next is not null) best.Next.Prev = rest;
                best.Next = rest;
                best.Size = size;
                _free.Add(rest);
            }
            best.Free = false;
        }
        _live[best.Ptr] = best;
        size = best.Size;
        return best.Ptr;
    }

    /// <summary>Takes back a block that <see cref="Take"/> gave, merging it with free neighbours; false if it is not one.</summary>
    public bool Put(nint p)
    {
        if (!_live.Remove(p, out var b)) return false;
        b.Free = true;
        if (b.Prev is { Free: true } prev)
        {
            _free.Remove(prev);   // its key (the size) changes
            prev.Size += b.Size;
            prev.Next = b.Next;
            if (b.Next is not null) b.Next.Prev = prev;
            b = prev;
        }
        if (b.Next is { Free: true } next)
        {
            _free.Remove(next);
            b.Size += next.Size;
            b.Next = next.Next;
            if (next.Next is not null) next.Next.Prev = b;
        }
        _free.Add(b);
        return true;
    }

    /// <summary>Frees every segment that is wholly free; a segment with a block in use stays whole.</summary>
    public void ReleaseFreeSegments()
    {
        foreach (var b in _free.Where(b => b.Prev is null && b.Next is null).ToList())
        {
            _free.Remove(b);
            free(b.Ptr, b.Size);
        }
    }
}
