using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kiln.Backends.Cpu.Gemm;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

/// <summary>
/// Convolution as GEMM. Per image and group, with Cg = C/groups, Kg = K/groups and CRS = Cg*R*S:
///   forward:          y_g (Kg, PQ)  = w_g (Kg, CRS) · col (CRS, PQ)        col = im2col(x_g)
///   backward data:    col (CRS, PQ) = w_gᵀ · dy_g (Kg, PQ);                 dx_g = col2im(col)
///   backward weights: dw_g (Kg, CRS) += dy_g · colᵀ
/// A 1x1 filter with stride 1 and no padding needs no im2col: x_g (Cg, HW) is the column matrix.
/// Note [im2col slabs]: the column matrix of a big layer is large (VGG's 224x224 3x3 layers: 115 MB per
/// image), so it is built for a slab of output rows at a time, at most <see cref="ConvColumnBudget"/>
/// elements: the GEMMs then run on column ranges of y and dy. Slabs depend on the shape only.
/// Work is split over images or inside the GEMM (whichever is coarse enough); neither changes the
/// arithmetic of an output element (see Note [Deterministic CPU] in Sgemm), and the weight gradient sums
/// images in chunks fixed by N alone, added in chunk order, so results do not depend on the thread count.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p)
    {
        var g = new ConvGeometry(x.Shape, w.Shape, y.Shape, p);
        if (IsF32(y) && PhaseSplitApplies(g)) PhaseForward(g, Ptr<float>(x), Ptr<float>(w), bias is null ? null : Ptr<float>(bias), Ptr<float>(y));
        else if (IsF32(y)) ForwardF32(g, Ptr<float>(x), Ptr<float>(w), bias is null ? null : Ptr<float>(bias), Ptr<float>(y));
        else if (y.DType == DType.Float64) ConvForward(g, Ptr<double>(x), Ptr<double>(w), bias is null ? null : Ptr<double>(bias), Ptr<double>(y));
        else throw Unsupported("conv2d", y);
    }

    public void Conv2dBackwardData(Tensor w, Tensor dy, Tensor dx, Conv2dParams p)
    {
        var g = new ConvGeometry(dx.Shape, w.Shape, dy.Shape, p);
        if (IsF32(dx) && PathFor(g) != ConvPathKind.Im2Col) DirectBackwardData(g, Ptr<float>(w), Ptr<float>(dy), Ptr<float>(dx));
        else if (IsF32(dx)) ConvBackwardData(g, Ptr<float>(w), Ptr<float>(dy), Ptr<float>(dx));
        else if (dx.DType == DType.Float64) ConvBackwardData(g, Ptr<double>(w), Ptr<double>(dy), Ptr<double>(dx));
        else throw Unsupported("conv2d", dx);
    }

    public void Conv2dBackwardWeights(Tensor x, Tensor dy, Tensor? dw, Tensor? dbias, Conv2dParams p)
    {
        int[] wShape = dw is not null ? dw.Shape.ToArray() : [dy.Size(1), x.Size(1) / p.Groups, 1, 1];
        var g = new ConvGeometry(x.Shape, wShape, dy.Shape, p);
        if (IsF32(dy))
        {
            if (dw is not null && PhaseSplitApplies(g)) PhaseBackwardWeights(g, Ptr<float>(x), Ptr<float>(dy), Ptr<float>(dw));
            else if (dw is not null) BackwardWeightsF32(g, Ptr<float>(x), Ptr<float>(dy), Ptr<float>(dw));
            if (dbias is not null) ConvBackwardBias(g, Ptr<float>(dy), Ptr<float>(dbias));
        }
        else if (dy.DType == DType.Float64)
        {
            if (dw is not null) ConvBackwardWeights(g, Ptr<double>(x), Ptr<double>(dy), Ptr<double>(dw));
            if (dbias is not null) ConvBackwardBias(g, Ptr<double>(dy), Ptr<double>(dbias));
        }
        else throw Unsupported("conv2d", dy);
    }

    /// <summary>A float32 forward on the path <see cref="PathFor"/> chooses (direct or row Winograd, else im2col).</summary>
    private static void ForwardF32(in ConvGeometry g, float* x, float* w, float* bias, float* y)
    {
        if (PathFor(g) != ConvPathKind.Im2Col) DirectForward(g, x, w, bias, y);
        else ConvForward(g, x, w, bias, y);
    }

    /// <summary>A float32 weight gradient on the path <see cref="PathFor"/> chooses.</summary>
    private static void BackwardWeightsF32(in ConvGeometry g, float* x, float* dy, float* dw)
    {
        switch (PathFor(g, weights: true))
        {
            case ConvPathKind.RowWinograd: RowWinogradBackwardWeights(g, x, dy, dw); break;
            case ConvPathKind.Direct: DirectBackwardWeights(g, x, dy, dw); break;
            default: ConvBackwardWeights(g, x, dy, dw); break;
        }
    }

    /// <summary>Sizes of one convolution, cuDNN's letters: x (N, C, H, W), w (K, Cg, R, S), y (N, K, P, Q).</summary>
    private readonly struct ConvGeometry
    {
        public readonly int N, C, H, W, K, R, S, P, Q, StrideH, StrideW, PadH, PadW, DilationH, DilationW, Groups;

        public ConvGeometry(ReadOnlySpan<int> x, ReadOnlySpan<int> w, ReadOnlySpan<int> y, Conv2dParams p)
        {
            (N, C, H, W) = (x[0], x[1], x[2], x[3]);
            (K, R, S) = (w[0], w[2], w[3]);
            (P, Q) = (y[2], y[3]);
            (StrideH, StrideW, PadH, PadW, DilationH, DilationW, Groups) = (p.StrideH, p.StrideW, p.PadH, p.PadW, p.DilationH, p.DilationW, p.Groups);
            Pointwise = p.IsPointwise(R, S);
            SlabRows = Pointwise ? P : (int)Math.Clamp(ConvColumnBudget / ((long)Crs * Q), 1, P);
        }

        public bool Pointwise { get; }
        /// <summary>Output rows per im2col slab (see Note [im2col slabs]).</summary>
        public int SlabRows { get; }
        public int Cg => C / Groups;
        public int Kg => K / Groups;
        public int Crs => Cg * R * S;
        public int PQ => P * Q;
        public int HW => H * W;
        public long ColLength => Pointwise ? 0 : (long)Crs * SlabRows * Q;

        /// <summary>Images in parallel (each with a one-thread GEMM) when there are enough of them; else a parallel GEMM per image.</summary>
        public bool ImagesInParallel => CpuParallel.Threads > 1 && N >= 2 * CpuParallel.Threads;
    }

    /// <summary>Most elements of an im2col slab (see Note [im2col slabs]); 2^20 floats = 4 MiB, within L3. Tests lower it.</summary>
    internal static long ConvColumnBudget = 1 << 20;

    private static void ConvForward<T>(ConvGeometry g, T* x, T* w, T* bias, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint px = (nint)x, pw = (nint)w, pb = (nint)bias, py = (nint)y;
        ForImages<T>(g, (n, col, parallelGemm) => ForwardImage(g, n, (T*)px, (T*)pw, (T*)pb, (T*)py, (T*)col, parallelGemm));
    }

    private delegate void ImageBody(int n, nint col, bool parallelGemm);

    /// <summary>
    /// Runs body for every image: over contiguous image ranges in parallel (each range with its own
    /// im2col scratch and a one-thread GEMM) when there are enough images, else image by image with a
    /// parallel GEMM. Scratch is rented before the parallel region, one block per range, so the
    /// allocator sees the same requests every step whatever the scheduling (see Note [Host caching allocator]).
    /// </summary>
    private static void ForImages<T>(ConvGeometry g, ImageBody body) where T : unmanaged
    {
        int ranges = g.ImagesInParallel ? Math.Min(g.N, CpuParallel.Threads) : 1;
        var cols = new nint[ranges];
        var sizes = new long[ranges];
        try
        {
            for (int r = 0; r < ranges; r++) cols[r] = (nint)RentScratch<T>(g.ColLength, out sizes[r]);
            if (ranges == 1)
            {
                for (int n = 0; n < g.N; n++) body(n, cols[0], true);
                return;
            }
            CpuParallel.ForRanges(g.N, ranges, (r, start, len) =>
            {
                for (long n = start; n < start + len; n++) body((int)n, cols[r], false);
            });
        }
        finally
        {
            for (int r = 0; r < ranges; r++) ReturnScratch((void*)cols[r], sizes[r]);
        }
    }

    private static void ForwardImage<T>(ConvGeometry g, int n, T* x, T* w, T* bias, T* y, T* col, bool parallelGemm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int gi = 0; gi < g.Groups; gi++)
        {
            T* xg = x + ((long)n * g.C + gi * g.Cg) * g.HW;   // (Cg, H, W)
            T* yg = y + ((long)n * g.K + gi * g.Kg) * g.PQ;   // (Kg, P, Q)
            T* wg = w + (long)gi * g.Kg * g.Crs;              // (Kg, CRS)
            T beta = T.Zero;
            if (bias != null)
            {
                for (int k = 0; k < g.Kg; k++) new Span<T>(yg + (long)k * g.PQ, g.PQ).Fill(bias[gi * g.Kg + k]);
                beta = T.One;
            }
            if (g.Pointwise)
                CpuGemm.Run(false, false, g.Kg, g.PQ, g.Cg, T.One, wg, g.Crs, xg, g.HW, beta, yg, g.PQ, parallelGemm);
            else
                for (int p0 = 0; p0 < g.P; p0 += g.SlabRows)
                {
                    int cols = Math.Min(g.SlabRows, g.P - p0) * g.Q;
                    Im2Col(g, xg, col, p0);
                    CpuGemm.Run(false, false, g.Kg, cols, g.Crs, T.One, wg, g.Crs, col, cols, beta, yg + p0 * g.Q, g.PQ, parallelGemm);
                }
        }
    }

    private static void ConvBackwardData<T>(ConvGeometry g, T* w, T* dy, T* dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint pw = (nint)w, pdy = (nint)dy, pdx = (nint)dx;
        ForImages<T>(g, (n, col, parallelGemm) => BackwardDataImage(g, n, (T*)pw, (T*)pdy, (T*)pdx, (T*)col, parallelGemm));
    }

    private static void BackwardDataImage<T>(ConvGeometry g, int n, T* w, T* dy, T* dx, T* col, bool parallelGemm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int gi = 0; gi < g.Groups; gi++)
        {
            T* dxg = dx + ((long)n * g.C + gi * g.Cg) * g.HW;  // (Cg, H, W)
            T* dyg = dy + ((long)n * g.K + gi * g.Kg) * g.PQ;  // (Kg, P, Q)
            T* wg = w + (long)gi * g.Kg * g.Crs;               // (Kg, CRS)
            if (g.Pointwise)
                CpuGemm.Run(true, false, g.Cg, g.HW, g.Kg, T.One, wg, g.Crs, dyg, g.PQ, T.Zero, dxg, g.HW, parallelGemm);
            else
            {
                new Span<T>(dxg, g.Cg * g.HW).Clear();
                for (int p0 = 0; p0 < g.P; p0 += g.SlabRows)
                {
                    int cols = Math.Min(g.SlabRows, g.P - p0) * g.Q;
                    CpuGemm.Run(true, false, g.Crs, cols, g.Kg, T.One, wg, g.Crs, dyg + p0 * g.Q, g.PQ, T.Zero, col, cols, parallelGemm);
                    Col2Im(g, col, dxg, p0);
                }
            }
        }
    }

    /// <summary>Images per weight-gradient chunk: chunk boundaries depend on N only (see Note [Deterministic CPU]).</summary>
    private const int WeightGradChunks = 4;

    private static void ConvBackwardWeights<T>(ConvGeometry g, T* x, T* dy, T* dw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = Math.Min(g.N, WeightGradChunks);
        int wLength = g.K * g.Crs;
        if (chunks == 0)
        {
            new Span<T>(dw, wLength).Clear();
            return;
        }
        // Chunk 0 writes dw itself; the others write partial sums that are then added in chunk order.
        // All scratch is rented up front, one im2col block per chunk, so every step asks the allocator
        // for the same blocks whatever the scheduling (see Note [Host caching allocator]).
        var cols = new nint[chunks];
        var colBytes = new long[chunks];
        T* part = null;
        long partBytes = 0;
        try
        {
            // Per chunk: the im2col slab, then dwᵀ (Groups, CRS, Kg) if the GEMM runs transposed.
            bool transposed = WeightGradTransposed(g);   // read once: tests may change the forced value meanwhile
            long scratch = g.ColLength + (transposed ? wLength : 0);
            for (int c = 0; c < chunks; c++) cols[c] = (nint)RentScratch<T>(scratch, out colBytes[c]);
            if (chunks == 1)
            {
                WeightChunk(g, 0, g.N, x, dy, dw, (T*)cols[0], transposed, parallelGemm: true);
                return;
            }
            part = (T*)RentScratch<T>((long)(chunks - 1) * wLength, out partBytes);
            nint px = (nint)x, pdy = (nint)dy, pdw = (nint)dw, ppart = (nint)part;
            int n = g.N;
            CpuParallel.For(chunks, c =>
            {
                T* dst = c == 0 ? (T*)pdw : (T*)ppart + (long)(c - 1) * wLength;
                WeightChunk(g, n * c / chunks, n * (c + 1) / chunks, (T*)px, (T*)pdy, dst, (T*)cols[c], transposed, parallelGemm: false);
            });
            var sum = new Span<T>(dw, wLength);
            for (int c = 1; c < chunks; c++)
                TensorPrimitives.Add(sum, new ReadOnlySpan<T>(part + (long)(c - 1) * wLength, wLength), sum);
        }
        finally
        {
            ReturnScratch(part, partBytes);
            for (int c = 0; c < chunks; c++) ReturnScratch((void*)cols[c], colBytes[c]);
        }
    }

    /// <summary>Tests force one orientation of the weight-gradient GEMM; null: <see cref="WeightGradTransposed"/> chooses.</summary>
    internal static bool? ForceWeightGradTransposed;

    /// <summary>
    /// Note [Transposed weight gradient]: dw_g (Kg, CRS) = dy_g · colᵀ is a GEMM with m = Kg, which for few output
    /// channels fills the 12-row kernel badly and packs the long column matrix transposed; dw_gᵀ (CRS, Kg) = col · dy_gᵀ
    /// has m = CRS instead (a multiple of 9 for 3x3 filters) and n = Kg. Each element is the same FMA chain over PQ
    /// in the same order either way (Note [Deterministic CPU]), so the bits do not change; dwᵀ is transposed into dw
    /// after the chunk's last image. Measured, one thread, one image (load 8): m=16 n=144 k=1024 0.086 ms,
    /// transposed 0.071; m=32 n=288 k=256 0.054 -> 0.050. ResNet-20's conv1 (C = 3, CRS = 27, Kg = 16) was slower
    /// transposed (4.5 -> 5.2 ms per step on one thread), so CRS must also be the long side.
    /// </summary>
    private static bool WeightGradTransposed(ConvGeometry g) => !g.Pointwise && (ForceWeightGradTransposed ?? (g.Kg <= 32 && g.Crs >= 4 * g.Kg));

    /// <summary>dst (K, CRS) = Σ over images [n0, n1), in order, of dy_g · col_gᵀ; col is this chunk's scratch (im2col slab, then dwᵀ).</summary>
    private static void WeightChunk<T>(ConvGeometry g, int n0, int n1, T* x, T* dy, T* dst, T* col, bool transposed, bool parallelGemm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* dwt = col + g.ColLength;                                // dwᵀ (Groups, CRS, Kg) when transposed
        for (int n = n0; n < n1; n++)
        {
            T beta = n == n0 ? T.Zero : T.One;
            for (int gi = 0; gi < g.Groups; gi++)
            {
                T* xg = x + ((long)n * g.C + gi * g.Cg) * g.HW;
                T* dyg = dy + ((long)n * g.K + gi * g.Kg) * g.PQ;
                T* dwg = dst + (long)gi * g.Kg * g.Crs;
                if (g.Pointwise)
                    CpuGemm.Run(false, true, g.Kg, g.Cg, g.PQ, T.One, dyg, g.PQ, xg, g.HW, beta, dwg, g.Crs, parallelGemm);
                else
                    for (int p0 = 0; p0 < g.P; p0 += g.SlabRows)
                    {
                        int cols = Math.Min(g.SlabRows, g.P - p0) * g.Q;
                        T betaSlab = p0 == 0 ? beta : T.One;
                        Im2Col(g, xg, col, p0);
                        if (transposed)
                            CpuGemm.Run(false, true, g.Crs, g.Kg, cols, T.One, col, cols, dyg + p0 * g.Q, g.PQ, betaSlab, dwt + (long)gi * g.Crs * g.Kg, g.Kg, parallelGemm);
                        else
                            CpuGemm.Run(false, true, g.Kg, g.Crs, cols, T.One, dyg + p0 * g.Q, g.PQ, col, cols, betaSlab, dwg, g.Crs, parallelGemm);
                    }
            }
        }
        if (transposed && n1 > n0)
            for (int gi = 0; gi < g.Groups; gi++)
            {
                T* src = dwt + (long)gi * g.Crs * g.Kg;   // (CRS, Kg)
                T* dwg = dst + (long)gi * g.Kg * g.Crs;   // (Kg, CRS)
                for (int k = 0; k < g.Kg; k++)
                    for (int i = 0; i < g.Crs; i++) dwg[(long)k * g.Crs + i] = src[(long)i * g.Kg + k];
            }
    }

    /// <summary>
    /// Scratch (im2col columns, partial sums) from the caching allocator, so steady-state steps touch no
    /// fresh pages (see Note [Host caching allocator]); null for zero elements. Return it in a finally.
    /// </summary>
    private static void* RentScratch<T>(long elements, out long roundedBytes) where T : unmanaged
    {
        roundedBytes = 0;
        return elements == 0 ? null : (void*)CpuAllocator.Rent(elements * sizeof(T), out roundedBytes);
    }

    private static void ReturnScratch(void* p, long roundedBytes)
    {
        if (p != null) CpuAllocator.Return((nint)p, roundedBytes);
    }

    /// <summary>
    /// One scratch block of floats per parallel range, all rented before the region, so that the allocator sees the
    /// same requests every step whatever the scheduling (see Note [Host caching allocator]); Dispose returns them.
    /// </summary>
    private sealed class RangeScratch : IDisposable
    {
        private readonly nint[] _blocks;
        private readonly long[] _sizes;

        public RangeScratch(int ranges, long floats)
        {
            _blocks = new nint[ranges];
            _sizes = new long[ranges];
            try
            {
                for (int r = 0; r < ranges; r++) _blocks[r] = (nint)RentScratch<float>(floats, out _sizes[r]);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public float* this[int range] => (float*)_blocks[range];

        public void Dispose()
        {
            for (int r = 0; r < _blocks.Length; r++) ReturnScratch((void*)_blocks[r], _sizes[r]);
        }
    }

    /// <summary>dbias[k] = Σ_n Σ_pq dy[n, k, pq], images added in order.</summary>
    private static void ConvBackwardBias<T>(ConvGeometry g, T* dy, T* db) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint pdy = (nint)dy, pdb = (nint)db;
        int chunks = CpuParallel.ChunkCount((long)g.K * g.N * g.PQ, 1 << 16);
        CpuParallel.ForRanges(g.K, Math.Min(chunks, g.K), (_, start, len) =>
        {
            for (long k = start; k < start + len; k++)
            {
                T s = T.Zero;
                for (int n = 0; n < g.N; n++)
                    s += TensorPrimitives.Sum(new ReadOnlySpan<T>((T*)pdy + ((long)n * g.K + k) * g.PQ, g.PQ));
                ((T*)pdb)[k] = s;
            }
        });
    }

    /// <summary>
    /// The slab of output rows [p0, p0 + SlabRows) of col (Cg*R*S, P*Q): row (c, r, s) holds
    /// x_g[c, p*sh - ph + r*dh, q*sw - pw + s*dw], zero outside the image.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2Col<T>(ConvGeometry g, T* x, T* col, int p0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int p1 = Math.Min(g.P, p0 + g.SlabRows);
        long rowLength = (long)(p1 - p0) * g.Q;
        for (int c = 0; c < g.Cg; c++)
            for (int r = 0; r < g.R; r++)
                for (int s = 0; s < g.S; s++)
                {
                    T* row = col + ((long)(c * g.R + r) * g.S + s) * rowLength;
                    int offH = r * g.DilationH - g.PadH, offW = s * g.DilationW - g.PadW;
                    var (qLo, qHi) = ValidRange(offW, g.W, g.StrideW, g.Q);
                    for (int p = p0; p < p1; p++)
                    {
                        T* dst = row + (long)(p - p0) * g.Q;
                        int ih = p * g.StrideH + offH;
                        if ((uint)ih >= (uint)g.H)
                        {
                            new Span<T>(dst, g.Q).Clear();
                            continue;
                        }
                        T* src = x + ((long)c * g.H + ih) * g.W + offW; // src[q * strideW] for q in [qLo, qHi)
                        for (int q = 0; q < qLo; q++) dst[q] = T.Zero;
                        if (g.StrideW == 1)
                            CopyRow(src + qLo, dst + qLo, qHi - qLo);
                        else if (typeof(T) == typeof(float) && Avx2.IsSupported)
                            GatherStrided((float*)src, g.StrideW, (float*)dst, qLo, qHi);
                        else
                            for (int q = qLo; q < qHi; q++) dst[q] = src[(long)q * g.StrideW];
                        for (int q = Math.Max(qHi, qLo); q < g.Q; q++) dst[q] = T.Zero;
                    }
                }
    }

    /// <summary>Adds a slab of col back into x_g (Cg, H, W): the adjoint of <see cref="Im2Col{T}"/>. Fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2Im<T>(ConvGeometry g, T* col, T* x, int p0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int p1 = Math.Min(g.P, p0 + g.SlabRows);
        long rowLength = (long)(p1 - p0) * g.Q;
        for (int c = 0; c < g.Cg; c++)
            for (int r = 0; r < g.R; r++)
                for (int s = 0; s < g.S; s++)
                {
                    T* row = col + ((long)(c * g.R + r) * g.S + s) * rowLength;
                    int offH = r * g.DilationH - g.PadH, offW = s * g.DilationW - g.PadW;
                    var (qLo, qHi) = ValidRange(offW, g.W, g.StrideW, g.Q);
                    if (qHi <= qLo) continue;
                    for (int p = p0; p < p1; p++)
                    {
                        int ih = p * g.StrideH + offH;
                        if ((uint)ih >= (uint)g.H) continue;
                        T* src = row + (long)(p - p0) * g.Q;
                        T* dst = x + ((long)c * g.H + ih) * g.W + offW;
                        if (g.StrideW == 1)
                            AddRow(src + qLo, dst + qLo, qHi - qLo);
                        else
                            for (int q = qLo; q < qHi; q++) dst[(long)q * g.StrideW] += src[q];
                    }
                }
    }

    /// <summary>dst[q] = src[q * stride] for q in [lo, hi), eight at a time with AVX2 gathers (strided convolutions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherStrided(float* src, int stride, float* dst, int lo, int hi)
    {
        int q = lo;
        if (hi - lo >= 8 && (long)(hi - 1) * stride < int.MaxValue)
        {
            var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * stride;
            var step = Vector256.Create(8 * stride);
            var at = index + Vector256.Create(lo * stride);
            for (; q + 8 <= hi; q += 8, at += step)
                Avx2.GatherVector256(src, at, 4).Store(dst + q);
        }
        for (; q < hi; q++) dst[q] = src[(long)q * stride];
    }

    /// <summary>
    /// dst[i] = src[i] for i &lt; n, inline: im2col copies rows of 7-56 elements, for which a call to memmove
    /// costs about as much as the copy. The last vector may overlap the previous one (src and dst are disjoint).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<T>(T* src, T* dst, int n) where T : unmanaged
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count) Vector512.Load(src + i).Store(dst + i);
            if (i < n) Vector512.Load(src + n - Vector512<T>.Count).Store(dst + n - Vector512<T>.Count);
            return;
        }
        if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count) Vector256.Load(src + i).Store(dst + i);
            if (i < n) Vector256.Load(src + n - Vector256<T>.Count).Store(dst + n - Vector256<T>.Count);
            return;
        }
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>dst[i] += src[i] for i &lt; n, inline (col2im's rows; see <see cref="CopyRow{T}"/>). One add per element, as the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<T>(T* src, T* dst, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count) (Vector512.Load(dst + i) + Vector512.Load(src + i)).Store(dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count) (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>The output columns q in [lo, hi) whose input column q*stride + offset lies in [0, size).</summary>
    private static (int Lo, int Hi) ValidRange(int offset, int size, int stride, int outSize)
    {
        int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int hi = size - 1 - offset < 0 ? 0 : Math.Min(outSize, (size - 1 - offset) / stride + 1);
        return (Math.Min(lo, outSize), Math.Max(hi, Math.Min(lo, outSize)));
    }
}
