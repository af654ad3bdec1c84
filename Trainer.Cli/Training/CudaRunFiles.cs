using Kiln.Backends.Cuda;
using Kiln.Config;

namespace Kiln.Cli.Training;

/// <summary>
/// The CUDA side of a run directory, shared by <c>kiln train</c> and <c>kiln eval</c>: the policy of training.cuda,
/// and the cuDNN files next to <c>checkpoints/</c>: <c>cudnn-algorithms.txt</c> (the algorithm cache, Note [Convolution
/// algorithm cache]) and <c>cudnn-layers.txt</c> (the per-layer table, Note [Per-layer algorithm log]).
/// </summary>
public static class CudaRunFiles
{
    public const string AlgorithmsFile = "cudnn-algorithms.txt";
    public const string LayersFile = "cudnn-layers.txt";
    private const string CheckpointsDir = "checkpoints";

    /// <summary>Applies training.cuda (TF32, determinism, timed search, workspace budget): the policy is part of every algorithm key.</summary>
    public static void Configure(CudaBackend cuda, CudaConfig c)
    {
        cuda.AllowTf32 = c.Tf32;
        cuda.ConvOptions.Deterministic = c.Deterministic;
        cuda.ConvOptions.Benchmark = c.Benchmark;
        cuda.ConvOptions.WorkspaceBudgetBytes = (long)c.WorkspaceMib << 20;
    }

    /// <summary>
    /// The run directory a checkpoint directory belongs to (<c>RUN/checkpoints/step-N</c> → <c>RUN</c>), or null for a
    /// checkpoint that is not inside a run's <c>checkpoints/</c> folder (e.g. one copied elsewhere).
    /// </summary>
    public static string? RunDirectoryOf(string checkpointDir)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpointDir));
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || Path.GetFileName(parent) != CheckpointsDir) return null;
        return Path.GetDirectoryName(parent);
    }

    /// <summary>
    /// The algorithm file of the run that wrote <paramref name="checkpointDir"/>, or null when the checkpoint is not in a
    /// run directory or the run has none (a CPU run, or one stopped before its first step): then the algorithms are searched.
    /// </summary>
    public static string? AlgorithmFileFor(string checkpointDir)
    {
        if (RunDirectoryOf(checkpointDir) is not { } run) return null;
        string file = Path.Combine(run, AlgorithmsFile);
        return File.Exists(file) ? file : null;
    }

    /// <summary>The algorithm files of the runs that wrote <paramref name="checkpointDirs"/> (an ensemble), each once, in order; runs without one are left out.</summary>
    public static List<string> AlgorithmFilesFor(IEnumerable<string> checkpointDirs) =>
        checkpointDirs.Select(AlgorithmFileFor).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
}
