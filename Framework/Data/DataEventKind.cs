namespace Kiln.Data;

/// <summary>What the loader reports; the library never prints, the caller decides (log, rate-limit, show).</summary>
public enum DataEventKind
{
    /// <summary>A sample was skipped; <see cref="DataEvent.Sample"/> says where and why.</summary>
    BadSample,
    /// <summary>An epoch finished on this rank; <see cref="DataEvent.Health"/> has its counts.</summary>
    EpochEnd,
}
