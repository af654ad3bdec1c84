using System.Runtime.InteropServices;

namespace Kiln.Backends.Cpu.Gemm;

/// <summary>
/// Packing scratch for the GEMM: one 64-byte-aligned native block per thread, grown on demand and
/// kept for the thread's life (a few hundred KiB; worker threads are pooled and long-lived), so a
/// GEMM call allocates no packing memory after warm-up. See Note [Host caching allocator] for why
/// reusing touched pages matters. A task never yields its thread, so a thread-local block is safe.
/// </summary>
internal static unsafe class GemmScratch
{
    [ThreadStatic] private static float* t_block;
    [ThreadStatic] private static long t_floats;

    /// <summary>This thread's scratch of at least <paramref name="floats"/> floats (contents undefined).</summary>
    public static float* Get(long floats)
    {
        if (floats > t_floats)
        {
            if (t_block != null) NativeMemory.AlignedFree(t_block);
            t_block = null;
            long size = Math.Max(floats, 1 << 16);
            t_block = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
            t_floats = size;
        }
        return t_block;
    }
}
