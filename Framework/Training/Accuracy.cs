namespace Kiln.Training;

/// <summary>Top-k counting for classification, as the ILSVRC papers report it (top-1 and top-5 error).</summary>
public static class Accuracy
{
    /// <summary>
    /// How many rows of <paramref name="logits"/> (N, C) rank the true label among their k highest
    /// scores. Ties are broken towards the lower class index, so the count is deterministic. Counted on the
    /// logits' device (one small read back on a GPU).
    /// </summary>
    public static int CountTopK(Tensor logits, Tensor labels, int k) => Count(logits, labels, k, k).Item1;

    /// <summary>Top-1 and top-5 counts in one pass (see <see cref="CountTopK"/>).</summary>
    public static (int Top1, int Top5) CountTop1And5(Tensor logits, Tensor labels) =>
        Count(logits, labels, 1, Math.Min(5, logits.Rank == 2 ? logits.Size(1) : 5));

    private static (int, int) Count(Tensor logits, Tensor labels, int k1, int k2)
    {
        if (logits.Rank != 2) throw new ArgumentException($"top-k needs logits (N, C), got {logits.ShapeString()}");
        int n = logits.Size(0), c = logits.Size(1);
        foreach (int k in (int[])[k1, k2])
            if (k < 1 || k > c) throw new ArgumentOutOfRangeException(nameof(k1), $"k = {k} for {c} classes");
        if (labels.DType != DType.Int32 || labels.NumElements != n)
            throw new ArgumentException($"labels {labels.ShapeString()} {labels.DType.Name()} do not match logits {logits.ShapeString()}: expected ({n}) int32");
        using var cl = logits.IsContiguous ? null : logits.Contiguous();
        using var cy = labels.IsContiguous ? null : labels.Contiguous();
        return Backend.Of(logits, labels).CountTopK(cl ?? logits, cy ?? labels, k1, k2);
    }
}
