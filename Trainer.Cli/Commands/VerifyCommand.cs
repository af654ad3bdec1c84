using CommandLine;
using Kiln.Cli.Training;
using Kiln.Training;

namespace Kiln.Cli.Commands;

[Verb("verify", HelpText = "Check checkpoints (state.json and each file's SHA-256): kiln verify RUN_DIR|CHECKPOINT.")]
public sealed class VerifyOptions : CommonOptions
{
    [Value(0, MetaName = "path", Required = true, HelpText = "A run directory (all its checkpoints) or one checkpoint directory.")]
    public string Path { get; set; } = "";
}

/// <summary><c>kiln verify</c>: one line per checkpoint; exit 0 when the newest (or the given) checkpoint verifies, 6 otherwise.</summary>
public static class VerifyCommand
{
    public static int Run(VerifyOptions o, TextWriter stdout)
    {
        string full = System.IO.Path.GetFullPath(o.Path);
        IReadOnlyList<CheckpointInfo> all = File.Exists(System.IO.Path.Combine(full, CheckpointStore.StateFile))
            ? [CheckpointStore.Verify(full)]
            : new CheckpointStore(System.IO.Path.Combine(full, "checkpoints")).VerifyAll();
        if (all.Count == 0)
        {
            stdout.WriteLine($"no checkpoints in '{full}'");
            return ExitCodes.CheckpointError;
        }
        foreach (var c in all)
            stdout.WriteLine(c.IsValid ? $"ok      {c.Path} (step {c.Step}, epoch {c.State!.Epoch}, config {c.State.ConfigHash[..Math.Min(12, c.State.ConfigHash.Length)]})" : $"DAMAGED {c.Path}: {c.Problem}");
        return all[0].IsValid ? ExitCodes.Ok : ExitCodes.CheckpointError;
    }
}
