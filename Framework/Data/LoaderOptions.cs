namespace Kiln.Data;

/// <summary>Settings of a <see cref="DataLoader"/>. Defaults suit ImageNet training.</summary>
public sealed record LoaderOptions
{
    /// <summary>Shard spec (braces, globs, list file; see <see cref="ShardList"/>), or a class-folder tree (see <see cref="ImageFolderSource"/>).</summary>
    public required string Shards { get; init; }
    public LoaderMode Mode { get; init; } = LoaderMode.Train;
    public int BatchSize { get; init; } = 256;
    /// <summary>Number of classes; labels outside [0, NumClasses) are bad samples.</summary>
    public int NumClasses { get; init; } = 1000;
    public ulong Seed { get; init; }
    /// <summary>Decode threads.</summary>
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Samples held by the shuffle buffer (training only; 0 or 1 turns it off).</summary>
    public int ShuffleBuffer { get; init; } = 2000;
    /// <summary>Shuffle the shard order each epoch (training only).</summary>
    public bool ShuffleShards { get; init; } = true;
    public int Rank { get; init; }
    public int WorldSize { get; init; } = 1;
    public RankSplit Split { get; init; } = RankSplit.Auto;
    /// <summary>Drop a short last batch: default true in training, false in evaluation.</summary>
    public bool? DropLast { get; init; }
    /// <summary>Samples decoded ahead of the consumer (the reorder window); 0 chooses 2·batch + 4·workers.</summary>
    public int Prefetch { get; init; }
    public TransformOptions Transform { get; init; } = TransformOptions.Train;
    /// <summary>Pixels as normalised float32 NCHW (default), or uint8 NHWC to normalise on the device (see Note [Uint8 batches]).</summary>
    public BatchFormat Format { get; init; } = BatchFormat.Float32Nchw;
    public DecodeLimits Limits { get; init; } = new();
    /// <summary>Largest tar member read into memory; larger members are bad samples, never allocated.</summary>
    public long MaxMemberBytes { get; init; } = 64L << 20;
    /// <summary>Stop when the epoch's bad fraction passes this (default 0.1%) ...</summary>
    public double MaxBadFraction { get; init; } = 0.001;
    /// <summary>... once this many samples were seen (and always at the epoch's end), so a bad first sample does not stop a run.</summary>
    public long MinSamplesForBadFraction { get; init; } = 10_000;
    /// <summary>Stop when this many samples in an epoch are bad (null: no absolute limit).</summary>
    public long? MaxBadCount { get; init; }
    /// <summary>File to append bad samples to, one tab-separated line each (null: none).</summary>
    public string? QuarantinePath { get; init; }
    /// <summary>Receives bad-sample and epoch events; called on the consuming thread.</summary>
    public Action<DataEvent>? OnEvent { get; init; }

    internal bool EffectiveDropLast => DropLast ?? Mode == LoaderMode.Train;

    /// <summary>Throws listing every problem at once.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (BatchSize < 1) problems.Add($"batch size must be >= 1, got {BatchSize}");
        if (NumClasses < 1) problems.Add($"number of classes must be >= 1, got {NumClasses}");
        if (Workers < 1) problems.Add($"workers must be >= 1, got {Workers}");
        if (ShuffleBuffer < 0) problems.Add($"shuffle buffer must be >= 0, got {ShuffleBuffer}");
        if (WorldSize < 1 || Rank < 0 || Rank >= WorldSize) problems.Add($"rank {Rank} must be in [0, world size {WorldSize})");
        if (Prefetch < 0) problems.Add($"prefetch must be >= 0, got {Prefetch}");
        if (MaxMemberBytes < 1) problems.Add($"max member bytes must be >= 1, got {MaxMemberBytes}");
        if (!(MaxBadFraction >= 0 && MaxBadFraction <= 1)) problems.Add($"max bad fraction must be in [0, 1], got {MaxBadFraction}");
        if (!Enum.IsDefined(Format)) problems.Add($"batch format must be Float32Nchw or UInt8Nhwc, got {Format}");
        if (MaxBadCount < 0) problems.Add($"max bad count must be >= 0, got {MaxBadCount}");
        try { Transform.Validate(); } catch (ArgumentException e) { problems.Add(e.Message); }
        if (problems.Count > 0) throw new ArgumentException("data loader: " + string.Join("; ", problems));
    }
}
