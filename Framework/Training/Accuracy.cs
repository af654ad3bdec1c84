namespace Kiln.Training;

/// <summary>Top-k counting for classification, as the ILSVRC papers report it (top-1 and top-5 error).</summary>
public static class Accuracy
{
    /// <summary>
    /// How many rows of <paramref name="logits"/> (N, C) rank the true label among their k highest
    /// scores. Ties are broken towards the lower class index, so the count is deterministic.
    /// </summary>
    public static int CountTopK(Tensor logits, Tensor labels, int k)
    {
        if (logits.Rank != 2) throw new ArgumentException($"top-k needs logits (N, C), got {logits.ShapeString()}");
        int n = logits.Size(0), c = logits.Size(1);
        if (k < 1 || k > c) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} for {c} classes");
        using var l64 = logits.To(DType.Float64);
        var scores = l64.ToArray<double>();
        var lab = labels.ToArray<int>();
        if (lab.Length != n) throw new ArgumentException($"labels {labels.ShapeString()} do not match logits {logits.ShapeString()}");
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            double target = scores[i * c + lab[i]];
            int better = 0;
            for (int j = 0; j < c; j++)
            {
                double v = scores[i * c + j];
                if (v > target || (v == target && j < lab[i])) better++;
            }
            if (better < k) correct++;
        }
        return correct;
    }
}
