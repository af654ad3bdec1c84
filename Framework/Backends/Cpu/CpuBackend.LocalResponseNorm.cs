using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void LocalResponseNormForward(Tensor x, Tensor y, Tensor scale, int size, double alpha, double beta, double k)
    {
        if (IsF32(x)) LrnForwardKernel<float>(x, y, scale, size, (float)alpha, (float)beta, (float)k);
        else if (x.DType == DType.Float64) LrnForwardKernel<double>(x, y, scale, size, alpha, beta, k);
        else throw Unsupported("local_response_norm", x);
    }

    public void LocalResponseNormBackward(Tensor x, Tensor y, Tensor scale, Tensor dy, Tensor dx, int size, double alpha, double beta, double k)
    {
        if (IsF32(x)) LrnBackwardKernel<float>(x, y, scale, dy, dx, size, (float)alpha, (float)beta);
        else if (x.DType == DType.Float64) LrnBackwardKernel<double>(x, y, scale, dy, dx, size, alpha, beta);
        else throw Unsupported("local_response_norm", x);
    }

    /// <summary>
    /// LRN work is split into (image, run of pixels) chunks: the channel window couples the planes of
    /// an image, so a chunk takes every channel of a run of contiguous pixels, and each step is a SIMD
    /// operation over that run. The run is sized so a chunk's C x run scratch stays cache-sized.
    /// </summary>
    private readonly struct LrnShape
    {
        public readonly int N, C, HW, Run, RunsPerImage;

        public LrnShape(Tensor x, params Tensor[] others)
        {
            foreach (var t in others)
                if (!t.SameShape(x)) throw new ArgumentException($"local_response_norm: {t.ShapeString()} does not match x {x.ShapeString()}");
            N = x.Size(0);
            C = x.Size(1);
            HW = x.Size(2) * x.Size(3);
            Run = Math.Min(HW, Math.Max(64, (1 << 15) / Math.Max(C, 1)));
            RunsPerImage = Run == 0 ? 0 : (HW + Run - 1) / Run;
        }

        public int Chunks => N * RunsPerImage;

        /// <summary>Offset of channel c of the chunk's run, and the run's length.</summary>
        public (int Offset, int Length) Locate(int chunk, int c)
        {
            int n = chunk / RunsPerImage, start = chunk % RunsPerImage * Run;
            return ((n * C + c) * HW + start, Math.Min(Run, HW - start));
        }
    }

    /// <summary>dst = s^-beta, as exp(-beta * log s) with SIMD log and exp (s &gt; 0).</summary>
    private static void PowNegBeta<T>(ReadOnlySpan<T> s, T beta, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Log(s, dst);
        TensorPrimitives.Multiply(dst, -beta, dst);
        TensorPrimitives.Exp(dst, dst);
    }

    private static void LrnForwardKernel<T>(Tensor x, Tensor y, Tensor scale, int size, T alpha, T beta, T k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new LrnShape(x, y, scale);
        CpuParallel.For(s.Chunks, chunk =>
        {
            var xs = Data<T>(x);
            var ys = Data<T>(y);
            var ss = Data<T>(scale);
            for (int c = 0; c < s.C; c++)
            {
                var (off, len) = s.Locate(chunk, c);
                var sc = ss.Slice(off, len);
                int lo = Math.Max(0, c - size / 2), hi = Math.Min(s.C - 1, c + (size - 1) / 2);
                var first = xs.Slice(s.Locate(chunk, lo).Offset, len);
                TensorPrimitives.Multiply(first, first, sc);
                for (int j = lo + 1; j <= hi; j++)
                {
                    var xj = xs.Slice(s.Locate(chunk, j).Offset, len);
                    TensorPrimitives.FusedMultiplyAdd(xj, xj, sc, sc);
                }
                TensorPrimitives.Multiply(sc, alpha, sc);
                TensorPrimitives.Add(sc, k, sc);                       // scale = k + alpha * Σ a²
                var yc = ys.Slice(off, len);
                PowNegBeta<T>(sc, beta, yc);
                TensorPrimitives.Multiply(yc, xs.Slice(off, len), yc); // y = x * scale^-beta
            }
        });
    }

    private static void LrnBackwardKernel<T>(Tensor x, Tensor y, Tensor scale, Tensor dy, Tensor dx, int size, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new LrnShape(x, y, scale, dy, dx);
        T coefficient = T.CreateTruncating(2) * alpha * beta;
        CpuParallel.For(s.Chunks, chunk =>
        {
            var xs = Data<T>(x);
            var ys = Data<T>(y);
            var ss = Data<T>(scale);
            var dys = Data<T>(dy);
            var dxs = Data<T>(dx);
            int run = s.Locate(chunk, 0).Length;
            var buffer = RentScratch<T>((s.C + 1) * run);
            try
            {
                // ratio[c] = dy * y / scale: (C, run)
                var ratio = buffer.AsSpan(0, s.C * run);
                var acc = buffer.AsSpan(s.C * run, run);
                for (int c = 0; c < s.C; c++)
                {
                    int off = s.Locate(chunk, c).Offset;
                    var r = ratio.Slice(c * run, run);
                    TensorPrimitives.Multiply(dys.Slice(off, run), ys.Slice(off, run), r);
                    TensorPrimitives.Divide(r, ss.Slice(off, run), r);
                }
                for (int c = 0; c < s.C; c++)
                {
                    int off = s.Locate(chunk, c).Offset;
                    // Channels c' whose window [c' - size/2, c' + (size-1)/2] holds c.
                    int lo = Math.Max(0, c - (size - 1) / 2), hi = Math.Min(s.C - 1, c + size / 2);
                    ratio.Slice(lo * run, run).CopyTo(acc);
                    for (int j = lo + 1; j <= hi; j++) TensorPrimitives.Add(acc, ratio.Slice(j * run, run), acc);
                    var xc = xs.Slice(off, run);
                    var dxc = dxs.Slice(off, run);
                    TensorPrimitives.Multiply(acc, xc, acc);
                    TensorPrimitives.Multiply(acc, coefficient, acc);     // 2 alpha beta x Σ ratio
                    PowNegBeta<T>(ss.Slice(off, run), beta, dxc);
                    TensorPrimitives.Multiply(dxc, dys.Slice(off, run), dxc);
                    TensorPrimitives.Subtract(dxc, acc, dxc);
                }
            }
            finally { ReturnScratch(buffer); }
        });
    }
}
