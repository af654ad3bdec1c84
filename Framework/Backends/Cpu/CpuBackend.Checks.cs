namespace Kiln.Backends.Cpu;

/// <summary>The non-finite check and top-k counting (the reference for Kernels/check.cu).</summary>
public sealed partial class CpuBackend
{
    public bool AnyNonFinite(IReadOnlyList<Tensor> tensors)
    {
        foreach (var t in tensors)
        {
            if (IsF32(t)) { foreach (float v in Data<float>(t)) if (!float.IsFinite(v)) return true; }
            else if (t.DType == DType.Float64) { foreach (double v in Data<double>(t)) if (!double.IsFinite(v)) return true; }
            else throw Unsupported("any_non_finite", t);
        }
        return false;
    }

    public (int TopK1, int TopK2) CountTopK(Tensor logits, Tensor labels, int k1, int k2)
    {
        if (IsF32(logits)) return CountTopKKernel(Data<float>(logits), Data<int>(labels), logits.Size(1), k1, k2);
        if (logits.DType == DType.Float64) return CountTopKKernel(Data<double>(logits), Data<int>(labels), logits.Size(1), k1, k2);
        throw Unsupported("top-k count", logits);
    }

    private static (int, int) CountTopKKernel<T>(Span<T> scores, Span<int> labels, int c, int k1, int k2) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int top1 = 0, top2 = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int t = labels[i];
            if ((uint)t >= (uint)c) continue;
            var row = scores.Slice(i * c, c);
            T target = row[t];
            int better = 0;
            for (int j = 0; j < c; j++)
                if (row[j] > target || (row[j] == target && j < t)) better++;
            if (better < k1) top1++;
            if (better < k2) top2++;
        }
        return (top1, top2);
    }
}
