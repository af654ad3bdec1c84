using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

// Note [Separable pooling]
// A pooling window is a product of a row range and a column range, so both max and sum pool in two
// passes per output row: a vertical pass combines the window's input rows elementwise into a row
// buffer (contiguous, SIMD through TensorPrimitives), then a horizontal pass combines each window's
// columns of that buffer. The row buffer carries the horizontal padding on both sides, filled with
// the reduction's identity (-inf for max, 0 for sum), so the horizontal pass needs no clipping:
// buffer index t is input column t - PadW, and window q covers t in [q * StrideW, q * StrideW + KernelW).
// For a stride s > 1 the row buffer is first split into s phases (phase r holds t = r, r + s, ...;
// a scalar copy), after which column j of every window is one contiguous span: phase j % s from
// j / s, Q long. The horizontal pass is then KernelW SIMD operations on whole spans for any stride
// (Window below); with s = 1 the single phase is the row buffer itself.

public sealed partial class CpuBackend
{
    /// <summary>The sizes a pooling kernel works with, from contiguous x (N, C, H, W) and y (N, C, P, Q).</summary>
    private readonly struct PoolShape
    {
        public readonly int Planes, H, W, P, Q, RowBufferLength, PhaseLength;
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
            PhaseLength = (RowBufferLength + p.StrideW - 1) / p.StrideW;
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

        /// <summary>Scratch for the phases of one row buffer (none when the stride is 1).</summary>
        public int PhasesLength => Params.StrideW == 1 ? 0 : Params.StrideW * PhaseLength;

        /// <summary>Column j of all Q windows, from the phases (or the row buffer itself when the stride is 1).</summary>
        public Span<T> Window<T>(Span<T> phases, int j) =>
            phases.Slice(j % Params.StrideW * PhaseLength + j / Params.StrideW, Q);

        /// <summary>The phases of <paramref name="row"/>: <paramref name="row"/> itself for stride 1, else a scalar split into <paramref name="scratch"/>.</summary>
        public Span<T> Decimate<T>(Span<T> row, Span<T> scratch)
        {
            int stride = Params.StrideW;
            if (stride == 1) return row;
            int done = stride == 2 ? DeinterleavePairs(row, scratch.Slice(0, PhaseLength), scratch.Slice(PhaseLength, PhaseLength)) : 0;
            for (int r = 0; r < stride; r++)
            {
                var phase = scratch.Slice(r * PhaseLength, PhaseLength);
                for (int i = done, t = 2 * done + r; t < row.Length; i++, t += stride) phase[i] = row[t];
            }
            return scratch;
        }

        /// <summary>
        /// even[i] = row[2i], odd[i] = row[2i + 1] for the leading i that whole AVX-512 register pairs
        /// cover (one two-source permute per phase and register); returns how many i were done (0
        /// without AVX-512 or for other T), the caller copies the rest.
        /// </summary>
        private static int DeinterleavePairs<T>(ReadOnlySpan<T> row, Span<T> even, Span<T> odd)
        {
            if (!Avx512F.IsSupported || (typeof(T) != typeof(float) && typeof(T) != typeof(double))) return 0;
            int w = Vector512<T>.Count, i = 0;
            if (row.Length < 2 * w || even.Length < row.Length / 2 || odd.Length < row.Length / 2) return 0;
            ref T r = ref MemoryMarshal.GetReference(row);
            ref T e = ref MemoryMarshal.GetReference(even);
            ref T o = ref MemoryMarshal.GetReference(odd);
            if (typeof(T) == typeof(float))
            {
                var evenIndex = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                var oddIndex = evenIndex + Vector512<int>.One;
                for (; 2 * i + 2 * w <= row.Length; i += w)
                {
                    var a = Vector512.LoadUnsafe(ref r, (nuint)(2 * i)).AsSingle();
                    var b = Vector512.LoadUnsafe(ref r, (nuint)(2 * i + w)).AsSingle();
                    Avx512F.PermuteVar16x32x2(a, evenIndex, b).As<float, T>().StoreUnsafe(ref e, (nuint)i);
                    Avx512F.PermuteVar16x32x2(a, oddIndex, b).As<float, T>().StoreUnsafe(ref o, (nuint)i);
                }
            }
            else
            {
                var evenIndex = Vector512.Create(0L, 2, 4, 6, 8, 10, 12, 14);
                var oddIndex = evenIndex + Vector512<long>.One;
                for (; 2 * i + 2 * w <= row.Length; i += w)
                {
                    var a = Vector512.LoadUnsafe(ref r, (nuint)(2 * i)).AsDouble();
                    var b = Vector512.LoadUnsafe(ref r, (nuint)(2 * i + w)).AsDouble();
                    Avx512F.PermuteVar8x64x2(a, evenIndex, b).As<double, T>().StoreUnsafe(ref e, (nuint)i);
                    Avx512F.PermuteVar8x64x2(a, oddIndex, b).As<double, T>().StoreUnsafe(ref o, (nuint)i);
                }
            }
            return i;
        }

        /// <summary>The inverse of <see cref="Decimate{T}"/>: writes the phases back into <paramref name="row"/> (nothing to do for stride 1).</summary>
        public void Interleave<T>(Span<T> phases, Span<T> row)
        {
            int stride = Params.StrideW;
            if (stride == 1) return;
            for (int r = 0; r < stride; r++)
            {
                var phase = phases.Slice(r * PhaseLength, PhaseLength);
                for (int i = 0, t = r; t < row.Length; i++, t += stride) row[t] = phase[i];
            }
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
