namespace Kiln.Visualization;

/// <summary>
/// One row of <see cref="LayerStats"/>: a layer's output maps over a set of images (how many maps were
/// never positive, the mean activation) and the norms of its weight and of that weight's gradient.
/// </summary>
public sealed record LayerStatistics(string Layer, string Kind, int[] OutputShape, int Maps, int DeadMaps, double MeanActivation,
    double? WeightNorm, double? GradNorm)
{
    /// <summary>Fraction of maps (channels) that were never positive on any image and position.</summary>
    public double DeadFraction => Maps == 0 ? 0 : (double)DeadMaps / Maps;
}
