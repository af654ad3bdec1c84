namespace Kiln.Data;

/// <summary>A skipped sample: where it was, and why. <paramref name="Index"/> is its position in the epoch's stream (-1 if none).</summary>
public sealed record BadSample(string Shard, string Key, BadSampleReason Reason, string Detail, int Epoch, long Index)
{
    /// <summary>One tab-separated line for the quarantine list.</summary>
    public string ToLine() => $"{Epoch}\t{Index}\t{Reason}\t{Shard}\t{Key}\t{Detail.ReplaceLineEndings(" ")}";
}
