namespace Kiln.Data;

/// <summary>
/// An event from the loader. <see cref="Health"/> is the epoch's running count (for a bad sample, including
/// it), so a caller can rate-limit: log the first few bad samples in full, then only summaries.
/// </summary>
public sealed record DataEvent(DataEventKind Kind, int Epoch, string Message, BadSample? Sample = null, DataHealth? Health = null);
