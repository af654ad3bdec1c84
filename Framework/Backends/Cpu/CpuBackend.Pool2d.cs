using System.Buffers;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

// Note [Separable pooling]
// A pooling window is a product of a row range and a column range, so both max and sum pool in two
// passes per output row: a vertical pass combines the window's input rows elementwise into a row
// buffer (contiguous, SIMD through TensorPrimitives), then a horizontal pass combines each window's
// columns of that buffer (SIMD as shifted spans when the stride is 1, scalar otherwise). The row
// buffer carries the horizontal padding on both sides, filled with the reduction's identity
// (-inf for max, 0 for sum), so the horizontal pass needs no clipping: buffer index t is input
// column t - PadW, and window q covers t in [q * StrideW, q * StrideW + KernelW).

public sealed partial class CpuBackend
{
    /// <summary>The sizes a pooling kernel works with, from contiguous x (N, C, H, W) and y (N, C, P, Q).</summary>
    private readonly struct PoolShape
    {
        public readonly int Planes, H, W, P, Q, RowBufferLength;
        public readonly Pool2dParams Params;

        public PoolShape(Tensor x, Tensor y, Pool2dParams p)
        {
            if (x.Rank != 4 || y.Rank != 4 || x.Size(0) != y.Size(0) || x.Size(1) != y.Size(1)
                || y.Size(2) != p.OutputHeight(x.Size(2)) || y.Size(3) != p.OutputWidth(x.Size(3)))
                throw new ArgumentException($"pool2d: x {x.ShapeString()} and y {y.ShapeString()} do not match {p}");
            Params = p;
            Planes = x.Size(0) * x.Size(1);
            H = x.Size(2);
            W = x.Size(3);
            P = y.Size(2);
            Q = y.Size(3);
            RowBufferLength = Math.Max(W + 2 * p.PadW, (Q - 1) * p.StrideW + p.KernelW);
        }

        /// <summary>Input rows [H0, H1) of output row <paramref name="oh"/>, clipped to the input.</summary>
        public (int H0, int H1) Rows(int oh)
        {
            int start = oh * Params.StrideH - Params.PadH;
            return (Math.Max(start, 0), Math.Min(start + Params.KernelH, H));
        }

        /// <summary>Input columns [W0, W1) of output column <paramref name="ow"/>, clipped to the input.</summary>
        public (int W0, int W1) Cols(int ow)
        {
            int start = ow * Params.StrideW - Params.PadW;
            return (Math.Max(start, 0), Math.Min(start + Params.KernelW, W));
        }

        /// <summary>
        /// Plane chunks for CpuParallel.ForRanges: at least ~32K input elements each, so a chunk is worth
        /// a task, and never more chunks than planes.
        /// </summary>
        public int Chunks => Math.Min(Planes, CpuParallel.ChunkCount((long)Planes * H * W, 1 << 15));
    }

    /// <summary>Scratch rows for one chunk of planes, from the shared pool; return with <see cref="ReturnScratch{T}"/>.</summary>
    private static T[] RentScratch<T>(int length) => ArrayPool<T>.Shared.Rent(Math.Max(length, 1));

    private static void ReturnScratch<T>(T[] buffer) => ArrayPool<T>.Shared.Return(buffer);
}
