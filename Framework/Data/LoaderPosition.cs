namespace Kiln.Data;

/// <summary>
/// Where a loader stands within an epoch: the next batch and the next sample of the rank's stream.
/// Each <see cref="HostBatch"/> carries the position after it; a checkpoint stores that, and a loader
/// started from it yields exactly the batches an uninterrupted run would have.
/// <see cref="NextSample"/> counts bad samples too; when it is unknown (-1) it is taken as
/// <c>Batch × BatchSize</c>, which is exact when no sample before it was bad. Store it together with
/// <see cref="DataLoader.Fingerprint"/>: a position only means the same thing for the same shards and settings.
/// </summary>
public readonly record struct LoaderPosition(int Epoch, long Batch, long NextSample = -1, long BadSoFar = 0)
{
    /// <summary>The start of an epoch.</summary>
    public static LoaderPosition Start(int epoch) => new(epoch, 0, 0, 0);
}
