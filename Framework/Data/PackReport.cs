namespace Kiln.Data;

/// <summary>What a packer wrote: counts, the shard spec to give the loader, and the images it converted or skipped (with reasons).</summary>
public sealed record PackReport(
    int Samples,
    int ShardsWritten,
    int ShardsKept,
    string ShardSpec,
    string ManifestPath,
    IReadOnlyList<(string Path, string Reason)> Converted,
    IReadOnlyList<(string Path, string Reason)> Skipped);
