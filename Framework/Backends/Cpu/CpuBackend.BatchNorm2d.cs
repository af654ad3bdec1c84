using System.Numerics.Tensors;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Backends.Cpu;

// Note [Batch-norm sums in double]
// Per-channel statistics reduce N*H*W values (802,816 for a ResNet stem at batch 64), so float32
// sums would lose digits. Every per-channel sum is accumulated in double: with AVX-512, float32 partials
// of at most 8 terms per lane are widened into double every 256 elements (BlockSums; centred sums are
// taken about the float32 mean and corrected exactly for its rounding), otherwise float32 loads are
// widened to two Vector256<double> and added there; the per-element maps (normalise, dx) then run in
// T with coefficients computed once per channel in double. The sums run over fixed chunks of images,
// added in chunk order, so results do not depend on the thread count (Note [Batch-norm passes in
// memory order]).

public sealed partial class CpuBackend
{
    public void BatchNorm2dForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        if (IsF32(x)) BatchNormForwardTrainingKernel<float>(x, weight, bias, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        else if (x.DType == DType.Float64) BatchNormForwardTrainingKernel<double>(x, weight, bias, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        else throw Unsupported("batch_norm2d", x);
    }

    public void BatchNorm2dReluForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        if (IsF32(x)) BatchNormForwardTrainingKernel<float>(x, weight, bias, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, relu: true);
        else if (x.DType == DType.Float64) BatchNormForwardTrainingKernel<double>(x, weight, bias, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, relu: true);
        else throw Unsupported("batch_norm2d", x);
    }

    public void BatchNorm2dReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd, Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        if (IsF32(x)) BatchNormBackwardKernel<float>(x, dy, weight, saveMean, saveInvStd, null, 0, dx, dweight, dbias, y);
        else if (x.DType == DType.Float64) BatchNormBackwardKernel<double>(x, dy, weight, saveMean, saveInvStd, null, 0, dx, dweight, dbias, y);
        else throw Unsupported("batch_norm2d", x);
    }

    public void BatchNorm2dForwardInference(Tensor x, Tensor? weight, Tensor? bias, Tensor mean, Tensor variance, double eps, Tensor y)
    {
        if (IsF32(x)) BatchNormForwardInferenceKernel<float>(x, weight, bias, mean, variance, eps, y);
        else if (x.DType == DType.Float64) BatchNormForwardInferenceKernel<double>(x, weight, bias, mean, variance, eps, y);
        else throw Unsupported("batch_norm2d", x);
    }

    public void BatchNorm2dBackward(Tensor x, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd, Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        if (IsF32(x)) BatchNormBackwardKernel<float>(x, dy, weight, saveMean, saveInvStd, null, 0, dx, dweight, dbias);
        else if (x.DType == DType.Float64) BatchNormBackwardKernel<double>(x, dy, weight, saveMean, saveInvStd, null, 0, dx, dweight, dbias);
        else throw Unsupported("batch_norm2d", x);
    }

    public void BatchNorm2dBackwardInference(Tensor x, Tensor dy, Tensor? weight, Tensor mean, Tensor variance, double eps, Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        if (IsF32(x)) BatchNormBackwardKernel<float>(x, dy, weight, mean, null, variance, eps, dx, dweight, dbias);
        else if (x.DType == DType.Float64) BatchNormBackwardKernel<double>(x, dy, weight, mean, null, variance, eps, dx, dweight, dbias);
        else throw Unsupported("batch_norm2d", x);
    }

    /// <summary>(N, C, H, W) sizes; plane (n, c) starts at (n * C + c) * HW.</summary>
    private readonly record struct BatchNormShape(int N, int C, int HW)
    {
        public static BatchNormShape Of(Tensor x) => new(x.Size(0), x.Size(1), x.Size(2) * x.Size(3));
        public int Plane(int n, int c) => (n * C + c) * HW;
        public long PerChannel => (long)N * HW;
    }

    private static T ValueOr<T>(Tensor? t, int c, T fallback) where T : unmanaged => t is null ? fallback : Data<T>(t)[c];

    private static void BatchNormForwardTrainingKernel<T>(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = BatchNormShape.Of(x);
        var sum = ChannelSums(s, 1, (n, c, acc) => acc[0] += SumDouble<T>(Data<T>(x).Slice(s.Plane(n, c), s.HW)));
        var mean = new double[s.C];
        for (int c = 0; c < s.C; c++) mean[c] = sum[c] / s.PerChannel;
        var squares = ChannelSums(s, 1, (n, c, acc) => acc[0] += SumSquaredDeviationDouble<T>(Data<T>(x).Slice(s.Plane(n, c), s.HW), mean[c]));
        var invStd = new double[s.C];
        for (int c = 0; c < s.C; c++)
        {
            invStd[c] = 1 / Math.Sqrt(squares[c] / s.PerChannel + eps); // biased variance normalises
            Data<T>(saveMean)[c] = T.CreateTruncating(mean[c]);
            Data<T>(saveInvStd)[c] = T.CreateTruncating(invStd[c]);
            if (runningMean is not null && runningVar is not null)
            {
                ref T rm = ref Data<T>(runningMean)[c];
                ref T rv = ref Data<T>(runningVar)[c];
                rm = T.CreateTruncating((1 - momentum) * double.CreateTruncating(rm) + momentum * mean[c]);
                rv = T.CreateTruncating((1 - momentum) * double.CreateTruncating(rv) + momentum * (squares[c] / (s.PerChannel - 1)));
            }
        }
        Normalize<T>(x, y, s, mean, invStd, weight, bias, relu);
    }

    private static void BatchNormForwardInferenceKernel<T>(Tensor x, Tensor? weight, Tensor? bias, Tensor mean, Tensor variance,
        double eps, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = BatchNormShape.Of(x);
        var (m, invStd) = ChannelStats<T>(s, mean, null, variance, eps);
        Normalize<T>(x, y, s, m, invStd, weight, bias);
    }

    /// <summary>Per-channel mean and 1/std in double: the saved invStd in training mode, else from the variance.</summary>
    private static (double[] Mean, double[] InvStd) ChannelStats<T>(BatchNormShape s, Tensor mean, Tensor? invStd, Tensor? variance, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = new double[s.C];
        var inv = new double[s.C];
        for (int c = 0; c < s.C; c++)
        {
            m[c] = double.CreateTruncating(Data<T>(mean)[c]);
            inv[c] = invStd is not null
                ? double.CreateTruncating(Data<T>(invStd)[c])
                : 1 / Math.Sqrt(double.CreateTruncating(Data<T>(variance!)[c]) + eps);
        }
        return (m, inv);
    }

    /// <summary>
    /// y = x * a + b on every plane of channel c, with a = weight * invStd and b = bias - mean * a; then max(y, 0) on the
    /// plane while it is in cache when <paramref name="relu"/> (Note [Batch norm with ReLU]; ReluForward's operation).
    /// Planes in memory order (Note [Batch-norm passes in memory order]).
    /// </summary>
    private static void Normalize<T>(Tensor x, Tensor y, BatchNormShape s, double[] mean, double[] invStd, Tensor? weight, Tensor? bias,
        bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[s.C];
        var b = new T[s.C];
        for (int c = 0; c < s.C; c++)
        {
            double ac = double.CreateTruncating(ValueOr(weight, c, T.One)) * invStd[c];
            a[c] = T.CreateTruncating(ac);
            b[c] = T.CreateTruncating(double.CreateTruncating(ValueOr(bias, c, T.Zero)) - mean[c] * ac);
        }
        ForPlanes(s, (n, c) =>
        {
            var plane = Data<T>(y).Slice(s.Plane(n, c), s.HW);
            AffineCombine<T>(Data<T>(x).Slice(s.Plane(n, c), s.HW), a[c], default, T.Zero, b[c], plane);
            if (relu) TensorPrimitives.Max(plane, T.Zero, plane);
        });
    }

    /// <summary>
    /// Training mode (invStd given): dx = A dy - B (x - mean) - A Σdy / M with A = w invStd and
    /// B = A invStd² Σ dy (x - mean) / M, the expanded form of w invStd / M (M dy - Σdy - xhat Σ dy xhat).
    /// Evaluation mode (variance given): dx = A dy with invStd from the variance.
    /// </summary>
    private static void BatchNormBackwardKernel<T>(Tensor x, Tensor dy, Tensor? weight, Tensor mean, Tensor? invStdTensor, Tensor? variance,
        double eps, Tensor? dx, Tensor? dweight, Tensor? dbias, Tensor? reluOutput = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = BatchNormShape.Of(x);
        bool training = invStdTensor is not null;
        var (m, invStd) = ChannelStats<T>(s, mean, invStdTensor, variance, eps);
        // With a fused ReLU (Note [Batch norm with ReLU]) each plane of dy is read as dz = y > 0 ? dy : 0: made into dx
        // by the first pass, which the second then reads and overwrites (same index, so in place is safe); without
        // dx, into a plane-sized buffer.
        bool dzInDx = reluOutput is not null && dx is not null, sums = training || dweight is not null || dbias is not null;
        var sumDy = new double[s.C];
        var sumDyCentered = new double[s.C];
        if (sums || dzInDx)
        {
            var both = ChannelSums(s, 2, (n, c, acc) =>
            {
                int at = s.Plane(n, c);
                T[]? masked = reluOutput is null || dzInDx ? null : ArrayPool<T>.Shared.Rent(s.HW);
                try
                {
                    ReadOnlySpan<T> dz;
                    if (dzInDx)
                    {
                        var plane = Data<T>(dx!).Slice(at, s.HW);
                        ReluBackwardSpan<T>(Data<T>(reluOutput!).Slice(at, s.HW), Data<T>(dy).Slice(at, s.HW), plane);
                        dz = plane;
                    }
                    else dz = Dz(Data<T>(dy), reluOutput, at, s.HW, masked);
                    if (!sums) return;
                    var (a, b) = SumAndDotCenteredDouble<T>(dz, Data<T>(x).Slice(at, s.HW), m[c]);
                    acc[0] += a;
                    acc[1] += b;
                }
                finally
                {
                    if (masked is not null) ArrayPool<T>.Shared.Return(masked);
                }
            });
            for (int c = 0; c < s.C; c++) (sumDy[c], sumDyCentered[c]) = (both[2 * c], both[2 * c + 1]);
        }
        for (int c = 0; c < s.C; c++)
        {
            if (dbias is not null) Data<T>(dbias)[c] = T.CreateTruncating(sumDy[c]);
            if (dweight is not null) Data<T>(dweight)[c] = T.CreateTruncating(sumDyCentered[c] * invStd[c]);
        }
        if (dx is null) return;
        var scaleDy = new T[s.C];
        var scaleX = new T[s.C];
        var shift = new T[s.C];
        for (int c = 0; c < s.C; c++)
        {
            double sd = double.CreateTruncating(ValueOr(weight, c, T.One)) * invStd[c], sx = 0, sh = 0;
            if (training)
            {
                sx = -sd * invStd[c] * invStd[c] * sumDyCentered[c] / s.PerChannel;
                sh = -sx * m[c] - sd * sumDy[c] / s.PerChannel;
            }
            (scaleDy[c], scaleX[c], shift[c]) = (T.CreateTruncating(sd), T.CreateTruncating(sx), T.CreateTruncating(sh));
        }
        ForPlanes(s, (n, c) =>
        {
            int at = s.Plane(n, c);
            var dxs = Data<T>(dx);
            AffineCombine<T>(dzInDx ? dxs.Slice(at, s.HW) : Data<T>(dy).Slice(at, s.HW), scaleDy[c],
                Data<T>(x).Slice(at, s.HW), scaleX[c], shift[c], dxs.Slice(at, s.HW));
        });
    }

    // Note [Batch-norm passes in memory order]
    // A channel's planes lie C*H*W floats apart, a power of two in most networks (ResNet-20: 64 KiB, 32 KiB, 16 KiB),
    // so walking one channel's planes image after image maps them onto a few cache sets and every pass after the first
    // missed L2: with work split by channel, ResNet-20's 16x32x32 batch norm took ~1.0 ms forward and ~1.5 backward.
    // Every pass now walks the tensor in memory order. The per-channel sums are taken over fixed chunks of images
    // (set by N alone), each chunk's sums kept apart and added in chunk order, so results still do not depend on the
    // thread count; the elementwise passes run over contiguous ranges of planes.

    /// <summary>Image chunks of the per-channel sums (Note [Batch-norm passes in memory order]): set by N alone.</summary>
    private static int SumChunks(int n) => Math.Min(n, 32);

    /// <summary>Channels per work item of the sums, so that wide layers split further than their image chunks.</summary>
    private const int SumChannelBlock = 16;

    private delegate void PlaneSums(int n, int c, Span<double> acc);

    /// <summary>
    /// count per-channel sums (channel c's at [c*count, c*count + count)): body adds plane (n, c)'s into acc. Each image
    /// chunk keeps its own sums; the chunks are added in order (Note [Batch-norm passes in memory order]).
    /// </summary>
    private static double[] ChannelSums(BatchNormShape s, int count, PlaneSums body)
    {
        int chunks = SumChunks(s.N), blocks = (s.C + SumChannelBlock - 1) / SumChannelBlock;
        var partial = ArrayPool<double>.Shared.Rent(Math.Max(1, chunks * s.C * count));
        try
        {
            Array.Clear(partial, 0, chunks * s.C * count);
            CpuParallel.For(chunks * blocks, item =>
            {
                int j = item / blocks, c0 = item % blocks * SumChannelBlock, c1 = Math.Min(s.C, c0 + SumChannelBlock);
                for (int n = s.N * j / chunks; n < s.N * (j + 1) / chunks; n++)
                    for (int c = c0; c < c1; c++)
                        body(n, c, partial.AsSpan((j * s.C + c) * count, count));
            });
            var total = new double[s.C * count];
            for (int j = 0; j < chunks; j++)
                for (int i = 0; i < s.C * count; i++) total[i] += partial[j * s.C * count + i];
            return total;
        }
        finally { ArrayPool<double>.Shared.Return(partial); }
    }

    /// <summary>body(n, c) for every plane, in contiguous parallel ranges of planes.</summary>
    private static void ForPlanes(BatchNormShape s, Action<int, int> body)
    {
        int planes = s.N * s.C;
        CpuParallel.ForRanges(planes, Math.Min(planes, CpuParallel.ChunkCount((long)planes * s.HW, 1 << 15)), (_, start, len) =>
        {
            for (long p = start; p < start + len; p++) body((int)(p / s.C), (int)(p % s.C));
        });
    }

    /// <summary>The plane of dy at <paramref name="start"/>, or with a fused ReLU its dz = y &gt; 0 ? dy : 0 in <paramref name="masked"/>.</summary>
    private static ReadOnlySpan<T> Dz<T>(ReadOnlySpan<T> dy, Tensor? reluOutput, int start, int length, T[]? masked) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plane = dy.Slice(start, length);
        if (masked is null) return plane;
        ReluBackwardSpan<T>(Data<T>(reluOutput!).Slice(start, length), plane, masked.AsSpan(0, length));
        return masked.AsSpan(0, length);
    }

    /// <summary>dst = a * u + b * v + c (v ignored when b is 0 or v is empty). SIMD with a scalar tail.</summary>
    private static void AffineCombine<T>(ReadOnlySpan<T> u, T a, ReadOnlySpan<T> v, T b, T c, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (u.Length != dst.Length || (b != T.Zero && v.Length != dst.Length))
            throw new ArgumentException($"affine combine: lengths {u.Length}, {v.Length}, {dst.Length}");
        bool useV = b != T.Zero;
        ref T ru = ref MemoryMarshal.GetReference(u);
        ref T rv = ref MemoryMarshal.GetReference(v);
        ref T rd = ref MemoryMarshal.GetReference(dst);
        nuint i = 0, n = (nuint)dst.Length;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            nuint w = (nuint)Vector256<T>.Count;
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            var vc = Vector256.Create(c);
            if (useV)
                for (; i + w <= n; i += w)
                    (Vector256.LoadUnsafe(ref ru, i) * va + Vector256.LoadUnsafe(ref rv, i) * vb + vc).StoreUnsafe(ref rd, i);
            else
                for (; i + w <= n; i += w)
                    (Vector256.LoadUnsafe(ref ru, i) * va + vc).StoreUnsafe(ref rd, i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref rd, i) = Unsafe.Add(ref ru, i) * a + (useV ? Unsafe.Add(ref rv, i) * b : T.Zero) + c;
    }

    // ---------------------------------------------------------- double-accumulated sums (Note [Batch-norm sums in double])

    private enum BlockSum { Plain, Squares, Dot }

    /// <summary>
    /// float32 sums with AVX-512, added into double every 256 elements (Note [Batch-norm sums in double]): each lane of a
    /// float32 partial holds at most 8 terms (two partials alternate), so its rounding stays near that of the inputs,
    /// and widening 16 floats costs one conversion per 256 instead of two per 8. Plain: (Σ a, 0); Squares:
    /// (Σ (a - m), Σ (a - m)²); Dot: (Σ a, Σ a (b - m)).
    /// </summary>
    private static (double A, double B) BlockSums(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float m, BlockSum kind)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        nuint i = 0, n = (nuint)a.Length;
        var vm = Vector512.Create(m);
        Vector512<double> sa = default, sb = default;
        while (i + 16 <= n)
        {
            nuint end = Math.Min(n - (n - i) % 16, i + 256);
            Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
            for (bool odd = false; i < end; i += 16, odd = !odd)
            {
                var va = Vector512.LoadUnsafe(ref ra, i);
                Vector512<float> ta, tb;
                switch (kind)
                {
                    case BlockSum.Plain: (ta, tb) = (va, default); break;
                    case BlockSum.Squares: ta = va - vm; tb = ta * ta; break;
                    default: ta = va; tb = va * (Vector512.LoadUnsafe(ref rb, i) - vm); break;
                }
                if (odd) { a1 += ta; b1 += tb; }
                else { a0 += ta; b0 += tb; }
            }
            var (alo, ahi) = Vector512.Widen(a0 + a1);
            sa += alo + ahi;
            if (kind != BlockSum.Plain)
            {
                var (blo, bhi) = Vector512.Widen(b0 + b1);
                sb += blo + bhi;
            }
        }
        double ta2 = Vector512.Sum(sa), tb2 = Vector512.Sum(sb);
        for (; i < n; i++)
        {
            double va = Unsafe.Add(ref ra, i);
            switch (kind)
            {
                case BlockSum.Plain: ta2 += va; break;
                case BlockSum.Squares: double d = va - m; ta2 += d; tb2 += d * d; break;
                default: ta2 += va; tb2 += va * ((double)Unsafe.Add(ref rb, i) - m); break;
            }
        }
        return (ta2, tb2);
    }

    /// <summary>Eight elements from <paramref name="r"/> + i as two Vector256&lt;double&gt; (float32 widened).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Lo, Vector256<double> Hi) Load8AsDouble<T>(ref T r, nuint i) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.Widen(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref r), i));
        ref double d = ref Unsafe.As<T, double>(ref r);
        return (Vector256.LoadUnsafe(ref d, i), Vector256.LoadUnsafe(ref d, i + 4));
    }

    private static bool WideSimd<T>() => Vector256.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    /// <summary>Σ x, accumulated in double.</summary>
    internal static double SumDouble<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            return BlockSums(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(x), 0f, BlockSum.Plain).A;
        ref T r = ref MemoryMarshal.GetReference(x);
        nuint i = 0, n = (nuint)x.Length;
        double s = 0;
        if (WideSimd<T>())
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Load8AsDouble(ref r, i);
                a0 += lo;
                a1 += hi;
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) s += double.CreateTruncating(Unsafe.Add(ref r, i));
        return s;
    }

    /// <summary>Σ (x - mean)², accumulated in double.</summary>
    internal static double SumSquaredDeviationDouble<T>(ReadOnlySpan<T> x, double mean) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
        {
            // About m = (float)mean: Σ (x - mean)² = Σ (x - m)² - 2δ Σ (x - m) + n δ² with δ = mean - m, exactly.
            float m = (float)mean;
            var (d, sq) = BlockSums(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(x), m, BlockSum.Squares);
            double delta = mean - m;
            return sq - 2 * delta * d + x.Length * delta * delta;
        }
        ref T r = ref MemoryMarshal.GetReference(x);
        nuint i = 0, n = (nuint)x.Length;
        double s = 0;
        if (WideSimd<T>())
        {
            var vm = Vector256.Create(mean);
            Vector256<double> a0 = default, a1 = default;
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Load8AsDouble(ref r, i);
                lo -= vm;
                hi -= vm;
                a0 += lo * lo;
                a1 += hi * hi;
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++)
        {
            double d = double.CreateTruncating(Unsafe.Add(ref r, i)) - mean;
            s += d * d;
        }
        return s;
    }

    /// <summary>(Σ dy, Σ dy (x - mean)), accumulated in double.</summary>
    internal static (double SumDy, double SumDyCentered) SumAndDotCenteredDouble<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, double mean)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dy.Length != x.Length) throw new ArgumentException($"lengths differ: dy {dy.Length}, x {x.Length}");
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
        {
            // About m = (float)mean: Σ dy (x - mean) = Σ dy (x - m) - δ Σ dy with δ = mean - m, exactly.
            float m = (float)mean;
            var (sumDy, dot) = BlockSums(MemoryMarshal.Cast<T, float>(dy), MemoryMarshal.Cast<T, float>(x), m, BlockSum.Dot);
            return (sumDy, dot - (mean - m) * sumDy);
        }
        ref T rd = ref MemoryMarshal.GetReference(dy);
        ref T rx = ref MemoryMarshal.GetReference(x);
        nuint i = 0, n = (nuint)x.Length;
        double s = 0, t = 0;
        if (WideSimd<T>())
        {
            var vm = Vector256.Create(mean);
            Vector256<double> s0 = default, s1 = default, t0 = default, t1 = default;
            for (; i + 8 <= n; i += 8)
            {
                var (dlo, dhi) = Load8AsDouble(ref rd, i);
                var (xlo, xhi) = Load8AsDouble(ref rx, i);
                s0 += dlo;
                s1 += dhi;
                t0 += dlo * (xlo - vm);
                t1 += dhi * (xhi - vm);
            }
            s = Vector256.Sum(s0 + s1);
            t = Vector256.Sum(t0 + t1);
        }
        for (; i < n; i++)
        {
            double d = double.CreateTruncating(Unsafe.Add(ref rd, i));
            s += d;
            t += d * (double.CreateTruncating(Unsafe.Add(ref rx, i)) - mean);
        }
        return (s, t);
    }
}
