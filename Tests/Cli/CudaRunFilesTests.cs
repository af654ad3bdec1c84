using Kiln.Cli.Training;

namespace Kiln.Tests.Cli;

/// <summary>Where <c>kiln eval</c> finds the cuDNN algorithm file of the run that wrote a checkpoint (no GPU needed).</summary>
public sealed class CudaRunFilesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"kiln-cuda-run-files-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    /// <summary>A run directory with checkpoints/step-N folders, optionally with an algorithm file.</summary>
    private string Run(string name, bool withFile, params long[] steps)
    {
        string run = Path.Combine(_root, name);
        foreach (long s in steps) Directory.CreateDirectory(Path.Combine(run, "checkpoints", $"step-{s:D8}"));
        if (withFile) File.WriteAllText(Path.Combine(run, CudaRunFiles.AlgorithmsFile), "# kiln conv algorithms v2 | GPU sm_90 cudnn 91900\n");
        return run;
    }

    private static string Checkpoint(string run, long step) => Path.Combine(run, "checkpoints", $"step-{step:D8}");

    [Fact]
    public void RunDirectoryOf_IsTwoLevelsUp_OnlyUnderACheckpointsFolder()
    {
        string run = Run("a", withFile: false, 10);
        Assert.Equal(run, CudaRunFiles.RunDirectoryOf(Checkpoint(run, 10)));
        Assert.Equal(run, CudaRunFiles.RunDirectoryOf(Checkpoint(run, 10) + Path.DirectorySeparatorChar));
        Assert.Null(CudaRunFiles.RunDirectoryOf(Path.Combine(_root, "copied", "step-00000010")));   // a checkpoint copied out of its run
        Assert.Null(CudaRunFiles.RunDirectoryOf("/"));
    }

    [Fact]
    public void AlgorithmFileFor_TheRunsFile_OrNullWhenTheRunHasNone()
    {
        string with = Run("with", withFile: true, 3, 6), without = Run("without", withFile: false, 3);
        Assert.Equal(Path.Combine(with, CudaRunFiles.AlgorithmsFile), CudaRunFiles.AlgorithmFileFor(Checkpoint(with, 6)));
        Assert.Null(CudaRunFiles.AlgorithmFileFor(Checkpoint(without, 3)));   // a CPU run: the algorithms are searched, no error
        string loose = Path.Combine(_root, "loose", "step-00000003");
        Directory.CreateDirectory(loose);
        File.WriteAllText(Path.Combine(_root, CudaRunFiles.AlgorithmsFile), "not ours");   // two levels up, but not a run's checkpoints/
        Assert.Null(CudaRunFiles.AlgorithmFileFor(loose));
    }

    [Fact]
    public void AlgorithmFilesFor_AnEnsemble_EachRunsFileOnce_InMemberOrder()
    {
        string a = Run("a", withFile: true, 3, 6), b = Run("b", withFile: false, 3), c = Run("c", withFile: true, 9);
        var files = CudaRunFiles.AlgorithmFilesFor([Checkpoint(c, 9), Checkpoint(a, 3), Checkpoint(b, 3), Checkpoint(a, 6)]);
        Assert.Equal([Path.Combine(c, CudaRunFiles.AlgorithmsFile), Path.Combine(a, CudaRunFiles.AlgorithmsFile)], files);
    }

    [Fact]
    public void EvalResolvesARunDirectoryToACheckpointWhoseRunFileIsFound()
    {
        // kiln eval --checkpoint RUN resolves to RUN/checkpoints/<best or newest>, from which the run's file is found again.
        string run = Path.Combine(_root, "trained");
        var store = new Kiln.Training.CheckpointStore(Path.Combine(run, "checkpoints"));
        string dir = store.Save(4, [new Kiln.Training.CheckpointFile("model.safetensors", s => s.WriteByte(0))],
            new Kiln.Training.CheckpointState { Step = 4, Config = "", ConfigHash = "" });
        File.WriteAllText(Path.Combine(run, CudaRunFiles.AlgorithmsFile), "");
        string resolved = Kiln.Cli.Commands.EvalCommand.ResolveCheckpoint(run);
        Assert.Equal(Path.GetFullPath(dir), resolved);
        Assert.Equal(Path.Combine(run, CudaRunFiles.AlgorithmsFile), CudaRunFiles.AlgorithmFileFor(resolved));
    }
}
