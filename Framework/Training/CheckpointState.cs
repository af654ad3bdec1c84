namespace Kiln.Training;

/// <summary>
/// Everything besides tensors that a run needs to continue exactly: written as <c>state.json</c> in
/// every checkpoint directory. <see cref="Files"/> holds the SHA-256 of each other file, so a damaged
/// checkpoint is detected before it is used.
/// </summary>
public sealed record CheckpointState
{
    public int FormatVersion { get; init; } = 1;
    public string FrameworkVersion { get; init; } = typeof(CheckpointState).Assembly.GetName().Version?.ToString() ?? "unknown";
    /// <summary>Epoch of the loader position (the epoch the next step reads from).</summary>
    public int Epoch { get; init; }
    /// <summary>Optimizer steps done (skipped non-finite steps included).</summary>
    public long Step { get; init; }
    /// <summary>The loader position after the last step: next batch, next sample, bad samples so far.</summary>
    public long LoaderBatch { get; init; }
    public long LoaderNextSample { get; init; }
    public long LoaderBadSoFar { get; init; }
    /// <summary><c>DataLoader.Fingerprint()</c> of the training loader the position belongs to.</summary>
    public string LoaderFingerprint { get; init; } = "";
    public List<GeneratorState> Generators { get; init; } = [];
    public PlateauState Plateau { get; init; } = new(1, null, 0, 0, 0);
    /// <summary>Best value of the watched validation metric so far, and the step it was reached at.</summary>
    public double? BestMetric { get; init; }
    public long? BestStep { get; init; }
    public long SkippedSteps { get; init; }
    public int ConsecutiveSkips { get; init; }
    /// <summary>Step of the last validation already done (and logged) when the checkpoint was written; −1 for none.</summary>
    public long LastEvalStep { get; init; } = -1;
    /// <summary>Loss of the last step (logged beside the next validation); null before the first step.</summary>
    public double? LastTrainLoss { get; init; }
    /// <summary>Training images seen, for throughput and ETA after a resume.</summary>
    public long ImagesSeen { get; init; }
    /// <summary>The resolved run config (YAML) and its hash.</summary>
    public string Config { get; init; } = "";
    public string ConfigHash { get; init; } = "";
    /// <summary>SHA-256 (hex) of every other file of the checkpoint, by file name.</summary>
    public Dictionary<string, string> Files { get; init; } = [];
    public DateTime SavedUtc { get; init; }
}
