namespace Kiln.Data;

/// <summary>How a rank's share of the data is chosen.</summary>
public enum RankSplit
{
    /// <summary>By shard when there are at least as many shards as ranks (training), else by sample.</summary>
    Auto,
    /// <summary>Shard i of the epoch's order goes to rank i mod world size: each rank reads only its shards.</summary>
    ByShard,
    /// <summary>Every rank reads every shard; sample g of the global stream goes to rank g mod world size (exact evaluation).</summary>
    BySample,
}
