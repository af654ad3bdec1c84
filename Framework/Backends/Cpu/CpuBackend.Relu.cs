using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Backends.Cpu;

// Note [Elementwise parallel split]
// ReLU is bound by memory bandwidth. Backward (three streams) gains from a second thread once the
// tensor is large: in ResNet-18 at batch 16 on 2 Zen 5 cores, 12.8M elements 6.2 -> 5.4 ms and 3.2M
// about 1.4 -> 1.2 ms, while at 0.4-0.8M elements the parallel region (waking the pool's threads,
// ~0.1 ms on a loaded machine) cost more than it saved. So tensors of at least
// ElementwiseParallelMinElements are cut into chunks of about ElementwiseChunkElements (boundaries
// from the size only, each chunk with its own scalar tail) and smaller ones stay on the calling
// thread. The forward (two streams) measured no faster on two threads in ResNet-18 before the
// spinning workers (relu_0 3.4 ms either way) and stayed serial; with them, ResNet-20's ReLU after
// each residual add (2M elements, just written by the add) takes 0.08-0.09 ms in chunks against
// 0.60 ms in one call (2026-11-26), so it splits the same way.

public sealed partial class CpuBackend
{
    /// <summary>Elementwise kernels run in parallel from this many elements (Note [Elementwise parallel split]).</summary>
    internal const int ElementwiseParallelMinElements = 1 << 20;
    private const int ElementwiseChunkElements = 1 << 16;

    public void ReluForward(Tensor x, Tensor y)
    {
        if (IsF32(x)) ReluForwardKernel<float>(x, y);
        else if (x.DType == DType.Float64) ReluForwardKernel<double>(x, y);
        else throw Unsupported("relu", x);
    }

    private static void ReluForwardKernel<T>(Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long n = Data<T>(y).Length;
        if (n < ElementwiseParallelMinElements || CpuParallel.Threads == 1)
        {
            TensorPrimitives.Max(Data<T>(x), T.Zero, Data<T>(y));
            return;
        }
        CpuParallel.ForRanges(n, ElementwiseChunks(n), (_, start, count) =>
            TensorPrimitives.Max(Data<T>(x).Slice((int)start, (int)count), T.Zero, Data<T>(y).Slice((int)start, (int)count)));
    }

    public void ReluBackward(Tensor y, Tensor dy, Tensor dx)
    {
        if (IsF32(y)) ReluBackwardKernel<float>(y, dy, dx);
        else if (y.DType == DType.Float64) ReluBackwardKernel<double>(y, dy, dx);
        else throw Unsupported("relu", y);
    }

    private static void ReluBackwardKernel<T>(Tensor y, Tensor dy, Tensor dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long n = Data<T>(dx).Length;
        if (Data<T>(y).Length != n || Data<T>(dy).Length != n)
            throw new ArgumentException($"relu backward: y {y.ShapeString()}, dy {dy.ShapeString()} and dx {dx.ShapeString()} must have the same size");
        if (n < ElementwiseParallelMinElements || CpuParallel.Threads == 1)
        {
            ReluBackwardSpan<T>(Data<T>(y), Data<T>(dy), Data<T>(dx));
            return;
        }
        CpuParallel.ForRanges(n, ElementwiseChunks(n), (_, start, count) =>
            ReluBackwardSpan<T>(Data<T>(y).Slice((int)start, (int)count), Data<T>(dy).Slice((int)start, (int)count), Data<T>(dx).Slice((int)start, (int)count)));
    }

    /// <summary>Chunks of about <see cref="ElementwiseChunkElements"/> for n elements (Note [Elementwise parallel split]).</summary>
    private static int ElementwiseChunks(long n) => CpuParallel.ChunkCount(n, ElementwiseChunkElements);

    /// <summary>
    /// dx = dy where y &gt; 0, else 0: one masked pass with a scalar tail. 256-bit on purpose: on the
    /// Zen 5 machine a 512-bit, twice-unrolled loop was 5-20% slower on data not in cache (0.8M
    /// elements: 0.24 vs 0.27-0.29 ms; 12.8M: 4.6 vs 5.1-5.5 ms, one thread).
    /// </summary>
    internal static void ReluBackwardSpan<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rdy = ref MemoryMarshal.GetReference(dy);
        ref T rdx = ref MemoryMarshal.GetReference(dx);
        nuint i = 0, n = (nuint)dx.Length;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            nuint w = (nuint)Vector256<T>.Count;
            for (; i + w <= n; i += w)
                (Vector256.GreaterThan(Vector256.LoadUnsafe(ref ry, i), Vector256<T>.Zero) & Vector256.LoadUnsafe(ref rdy, i)).StoreUnsafe(ref rdx, i);
        }
        for (; i < n; i++) Unsafe.Add(ref rdx, i) = Unsafe.Add(ref ry, i) > T.Zero ? Unsafe.Add(ref rdy, i) : T.Zero;
    }
}
