namespace Kiln.Training;

/// <summary>
/// Counts of an evaluation over a validation set: every image counted exactly once. Errors are
/// fractions in [0, 1]; <see cref="Confusion"/>[true, predicted] counts top-1 predictions.
/// </summary>
public sealed record EvalResult(long Count, long Top1Correct, long Top5Correct, double LossSum, long[] PerClassTotal, long[] PerClassCorrect, long[,] Confusion)
{
    public double Top1Error => Count == 0 ? double.NaN : 1 - (double)Top1Correct / Count;
    public double Top5Error => Count == 0 ? double.NaN : 1 - (double)Top5Correct / Count;
    /// <summary>Mean negative log of the (averaged) probability of the true class.</summary>
    public double Loss => Count == 0 ? double.NaN : LossSum / Count;

    /// <summary>The most frequent off-diagonal (true, predicted) pairs.</summary>
    public IReadOnlyList<(int True, int Predicted, long Count)> MostConfused(int top)
    {
        var pairs = new List<(int, int, long)>();
        int k = Confusion.GetLength(0);
        for (int t = 0; t < k; t++)
            for (int p = 0; p < k; p++)
                if (t != p && Confusion[t, p] > 0) pairs.Add((t, p, Confusion[t, p]));
        return pairs.OrderByDescending(x => x.Item3).ThenBy(x => x.Item1).ThenBy(x => x.Item2).Take(top).ToList();
    }
}
