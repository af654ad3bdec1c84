namespace Kiln.Data;

/// <summary>What the loader reports; the library never prints, the caller decides (log, rate-limit, show).</summary>
public enum DataEventKind
{
    /// <summary>A sample was skipped; <see cref="DataEvent.Sample"/> says where and why.</summary>
    BadSample,
    /// <summary>An epoch finished on this rank; <see cref="DataEvent.Health"/> has its counts.</summary>
    EpochEnd,
}

/// <summary>
/// An event from the loader. <see cref="Health"/> is the epoch's running count (for a bad sample, including
/// it), so a caller can rate-limit: log the first few bad samples in full, then only summaries.
/// </summary>
public sealed record DataEvent(DataEventKind Kind, int Epoch, string Message, BadSample? Sample = null, DataHealth? Health = null);
