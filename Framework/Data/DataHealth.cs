namespace Kiln.Data;

/// <summary>
/// Bad-sample bookkeeping for one epoch on one rank: counts by reason and by shard, and the budget
/// check. Updated by the loader's collating thread only, in sample order, so it is deterministic and a
/// resumed run reproduces it.
/// </summary>
public sealed class DataHealth
{
    private readonly long[] _byReason = new long[Enum.GetValues<BadSampleReason>().Length];
    private readonly Dictionary<string, long> _byShard = new(StringComparer.Ordinal);

    /// <summary>Samples looked at (good + bad).</summary>
    public long Seen { get; private set; }
    public long Bad { get; private set; }
    public long Good => Seen - Bad;
    public double BadFraction => Seen == 0 ? 0 : (double)Bad / Seen;

    public long Count(BadSampleReason reason) => _byReason[(int)reason];

    public void AddGood() => Seen++;

    public void AddBad(BadSample sample)
    {
        Seen++;
        Bad++;
        _byReason[(int)sample.Reason]++;
        _byShard[sample.Shard] = _byShard.GetValueOrDefault(sample.Shard) + 1;
    }

    /// <summary>Restores the counters of a resumed epoch (bad samples before the resume point, reason unknown).</summary>
    internal void Restore(long seen, long bad)
    {
        Seen = seen;
        Bad = bad;
    }

    /// <summary>"12 bad of 10000 (0.120%): CorruptImage 9, MissingLabel 3; worst shards: a.tar 7, b.tar 5".</summary>
    public string Summary(int worstShards = 5)
    {
        var reasons = new List<string>();
        foreach (var reason in Enum.GetValues<BadSampleReason>())
            if (_byReason[(int)reason] > 0) reasons.Add($"{reason} {_byReason[(int)reason]}");
        var worst = _byShard.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(worstShards)
            .Select(kv => $"{kv.Key} {kv.Value}");
        string text = $"{Bad} bad of {Seen} samples ({100.0 * BadFraction:0.###}%)";
        if (reasons.Count > 0) text += ": " + string.Join(", ", reasons);
        if (_byShard.Count > 0) text += "; worst shards: " + string.Join(", ", worst);
        return text;
    }
}
