using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

/// <summary>Mul and dropout.</summary>
public sealed partial class CpuBackend
{
    public void Mul(Tensor a, Tensor b, Tensor y)
    {
        if (IsF32(y)) Binary<float>(Data<float>(a), Data<float>(b), Data<float>(y), TensorPrimitives.Multiply);
        else if (y.DType == DType.Float64) Binary<double>(Data<double>(a), Data<double>(b), Data<double>(y), TensorPrimitives.Multiply);
        else throw Unsupported("mul", y);
    }

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, double p, ulong seed, ulong offset)
    {
        if (IsF32(x)) DropoutKernel(Data<float>(x), Data<float>(y), Data<float>(mask), p, seed, offset);
        else if (x.DType == DType.Float64) DropoutKernel(Data<double>(x), Data<double>(y), Data<double>(mask), p, seed, offset);
        else throw Unsupported("dropout", x);
    }

    private static unsafe void DropoutKernel<T>(Span<T> x, Span<T> y, Span<T> mask, double p, ulong seed, ulong offset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T keep = T.CreateTruncating(1.0 / (1.0 - p));
        float threshold = (float)p;
        int n = x.Length;
        fixed (T* px = x, py = y, pm = mask)
        {
            nint ix = (nint)px, iy = (nint)py, im = (nint)pm;
            // Chunks start on multiples of 4 so each Philox block is computed once.
            int chunks = CpuParallel.ChunkCount(n, 1 << 15);
            CpuParallel.For(chunks, ch =>
            {
                long start = (long)n * ch / chunks & ~3L, end = ch == chunks - 1 ? n : (long)n * (ch + 1) / chunks & ~3L;
                T* xs = (T*)ix, ys = (T*)iy, ms = (T*)im;
                for (long i = start; i < end; i += 4)
                {
                    ulong counter = offset + (ulong)(i >> 2);
                    var (w0, w1, w2, w3) = Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));
                    uint w = w0;
                    for (long k = i; k < Math.Min(i + 4, end); k++)
                    {
                        w = (k - i) switch { 0 => w0, 1 => w1, 2 => w2, _ => w3 };
                        T m = Philox.ToUniform(w) >= threshold ? keep : T.Zero;
                        ms[k] = m;
                        ys[k] = xs[k] * m;
                    }
                }
            });
        }
    }
}
