using CommandLine;
using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Data;
using Kiln.Training;

namespace Kiln.Cli.Commands;

[Verb("train", HelpText = "Train from a run config: kiln train config.yaml [--set key.path=value ...] [--resume RUN_DIR|CHECKPOINT|auto].")]
public sealed class TrainOptions : CommonOptions
{
    [Value(0, MetaName = "config", Required = true, HelpText = "Run config YAML (see configs/).")]
    public string Config { get; set; } = "";

    [Option("set", HelpText = "Override a config value: --set optimizer.lr=0.01 (repeatable).")]
    public IEnumerable<string> Set { get; set; } = [];

    [Option("resume", HelpText = "auto (newest valid checkpoint of training.run_dir, or a fresh start if it has none), a run directory, or a checkpoint directory.")]
    public string? Resume { get; set; }

    [Option("allow-config-change", HelpText = "Resume even though the config differs from the checkpoint's (the differences are still listed).")]
    public bool AllowConfigChange { get; set; }
}

/// <summary><c>kiln train</c>: resolves the config and the checkpoint to resume from, then runs a <see cref="TrainSession"/>.</summary>
public static class TrainCommand
{
    public static int Run(TrainOptions o)
    {
        o.Apply();
        RunConfig config;
        try
        {
            config = RunConfigLoader.Load(o.Config, o.Set);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"kiln train: {e.Message}");
            return ExitCodes.ConfigError;
        }

        try
        {
            var (runDir, checkpoint) = ResolveResume(o, config, Console.Error);
            config = config with { Training = config.Training with { RunDir = runDir } };
            try { Directory.CreateDirectory(runDir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // CK-4: a read-only place, or a file where the folder should be, is named before anything starts.
                throw new RunStopException(ExitCodes.CheckpointError, $"cannot create the run directory '{runDir}' (training.run_dir): {e.Message}", e);
            }
            using var log = new RunLog(runDir, config.Logging);
            string yaml = ConfigWriter.ToYaml(config);
            log.Info("kiln train {Config} -> {RunDir}{Resume}\n--- resolved config (hash {Hash}) ---\n{Yaml}---",
                o.Config, runDir, checkpoint is null ? "" : $" (resuming from {checkpoint.Path})", RunConfigLoader.Hash(config)[..12], yaml);
            try
            {
                using var session = new TrainSession(config, runDir, log, FaultInjection.FromEnvironment(), checkpoint, o.AllowConfigChange);
                // Written once the session accepted it: a refused resume leaves the run's config.yaml alone.
                Kiln.Serialization.AtomicFile.Write(Path.Combine(runDir, "config.yaml"), s => s.Write(System.Text.Encoding.UTF8.GetBytes(yaml)));
                return session.Run();
            }
            catch (RunStopException e)
            {
                log.Error("{Message}", e.Message);
                return e.ExitCode;
            }
            catch (Exception e) when (e is DataBudgetExceededException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException && !o.Verbose)
            {
                log.Error("data: {Message}", e.Message);
                return ExitCodes.DataError;
            }
            catch (Exception e) when (e is ArgumentException or ConfigException or NetworkDefinitionException && !o.Verbose)
            {
                log.Error("{Message}", e.Message);
                return ExitCodes.ConfigError;
            }
        }
        catch (RunStopException e)
        {
            Console.Error.WriteLine($"kiln train: {e.Message}");
            return e.ExitCode;
        }
    }

    /// <summary>
    /// The run directory and the verified checkpoint to resume from (null: a fresh start). A damaged
    /// newest checkpoint is reported and the previous valid one is used (auto, run directory) or
    /// offered (an explicit checkpoint); checkpoints that all fail verification never start from scratch.
    /// </summary>
    public static (string RunDir, CheckpointInfo? Checkpoint) ResolveResume(TrainOptions o, RunConfig config, TextWriter err)
    {
        string configured = Path.GetFullPath(config.Training.RunDir);
        if (o.Resume is null)
        {
            var existing = new CheckpointStore(Path.Combine(configured, "checkpoints")).List();
            if (existing.Count > 0)
                throw new RunStopException(ExitCodes.ConfigError, $"run directory '{configured}' already has {existing.Count} checkpoint(s) (newest {Path.GetFileName(existing[0].Path)}); " +
                    "pass --resume auto to continue it, or set training.run_dir to a new directory");
            return (configured, null);
        }
        if (o.Resume != "auto" && File.Exists(Path.Combine(o.Resume, CheckpointStore.StateFile)))
        {
            string ckpt = Path.GetFullPath(o.Resume);
            var info = CheckpointStore.Verify(ckpt);
            string runDir = Path.GetDirectoryName(Path.GetDirectoryName(ckpt)!)!;
            if (info.IsValid) return (runDir, info);
            var store = new CheckpointStore(Path.GetDirectoryName(ckpt)!);
            var previous = store.VerifyAll().FirstOrDefault(c => c.IsValid && c.Step < info.Step);
            throw new RunStopException(ExitCodes.CheckpointError, $"checkpoint '{ckpt}' failed verification: {info.Problem}" +
                (previous is null ? "; no earlier valid checkpoint found" : $"; the previous valid one is '{previous.Path}' (pass --resume {previous.Path})"));
        }
        string dir = o.Resume == "auto" ? configured : Path.GetFullPath(o.Resume);
        if (o.Resume != "auto" && !Directory.Exists(dir))
            throw new RunStopException(ExitCodes.ConfigError, $"--resume '{o.Resume}': no such run or checkpoint directory");
        var all = new CheckpointStore(Path.Combine(dir, "checkpoints")).VerifyAll();
        if (all.Count == 0)
        {
            if (o.Resume != "auto") throw new RunStopException(ExitCodes.CheckpointError, $"--resume '{dir}': the run directory has no checkpoints");
            return (dir, null);
        }
        foreach (var bad in all.TakeWhile(c => !c.IsValid))
            err.WriteLine($"kiln train: warning: skipping damaged checkpoint '{bad.Path}': {bad.Problem}");
        var valid = all.FirstOrDefault(c => c.IsValid)
            ?? throw new RunStopException(ExitCodes.CheckpointError, $"none of the {all.Count} checkpoint(s) in '{Path.Combine(dir, "checkpoints")}' verifies " +
                $"(newest: {all[0].Problem}); refusing to start from scratch silently: move the directory away or pick another training.run_dir");
        return (dir, valid);
    }
}
