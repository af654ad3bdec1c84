using System.Numerics.Tensors;

namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void CrossEntropyForward(Tensor logits, Tensor labels, double smoothing, Tensor loss)
    {
        int n = logits.Size(0), c = logits.Size(1);
        var lab = Data<int>(labels);
        for (int i = 0; i < n; i++)
            if ((uint)lab[i] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(labels), $"cross_entropy: label {lab[i]} of sample {i} is outside [0, {c}) for logits {logits.ShapeString()}");
        ForSampleRanges(n, c, (start, len) =>
        {
            if (IsF32(logits)) CrossEntropyForwardKernel(Data<float>(logits), Data<int>(labels), smoothing, Data<float>(loss), start, len, c);
            else if (logits.DType == DType.Float64) CrossEntropyForwardKernel(Data<double>(logits), Data<int>(labels), smoothing, Data<double>(loss), start, len, c);
            else throw Unsupported("cross_entropy", logits);
        });
    }

    public void CrossEntropyBackward(Tensor logits, Tensor labels, double smoothing, Tensor dloss, Tensor dlogits)
    {
        int n = logits.Size(0), c = logits.Size(1);
        ForSampleRanges(n, c, (start, len) =>
        {
            if (IsF32(logits)) CrossEntropyBackwardKernel(Data<float>(logits), Data<int>(labels), smoothing, Data<float>(dloss), Data<float>(dlogits), start, len, c);
            else if (logits.DType == DType.Float64) CrossEntropyBackwardKernel(Data<double>(logits), Data<int>(labels), smoothing, Data<double>(dloss), Data<double>(dlogits), start, len, c);
            else throw Unsupported("cross_entropy", logits);
        });
    }

    /// <summary>Splits n samples of c classes into coarse ranges (start, length) run in parallel.</summary>
    private static void ForSampleRanges(int n, int c, Action<int, int> body)
    {
        CpuParallel.ForRanges(n, CpuParallel.ChunkCount((long)n * c, 1 << 14), (_, start, len) => body((int)start, (int)len));
    }

    private static void CrossEntropyForwardKernel<T>(Span<T> x, Span<int> labels, double smoothing, Span<T> loss, int start, int count, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = start; i < start + count; i++)
        {
            var row = x.Slice(i * c, c);
            double max = double.CreateTruncating(TensorPrimitives.Max<T>(row));
            double sumExp = 0, sumX = 0;
            foreach (T v in row)
            {
                double d = double.CreateTruncating(v);
                sumExp += Math.Exp(d - max);
                sumX += d;
            }
            double lse = max + Math.Log(sumExp);
            double target = double.CreateTruncating(row[labels[i]]);
            loss[i] = T.CreateTruncating(lse - (1 - smoothing) * target - smoothing / c * sumX);
        }
    }

    private static void CrossEntropyBackwardKernel<T>(Span<T> x, Span<int> labels, double smoothing, Span<T> dloss, Span<T> dx, int start, int count, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T uniform = T.CreateTruncating(smoothing / c);
        T onTarget = T.CreateTruncating(1 - smoothing);
        for (int i = start; i < start + count; i++)
        {
            var row = x.Slice(i * c, c);
            var drow = dx.Slice(i * c, c);
            T max = TensorPrimitives.Max<T>(row);
            TensorPrimitives.Subtract(row, max, drow);
            TensorPrimitives.Exp<T>(drow, drow);
            TensorPrimitives.Divide(drow, TensorPrimitives.Sum<T>(drow), drow); // softmax
            TensorPrimitives.Subtract(drow, uniform, drow);
            drow[labels[i]] -= onTarget;
            TensorPrimitives.Multiply(drow, dloss[i], drow);
        }
    }
}
