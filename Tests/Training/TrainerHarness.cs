using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kiln.Data;

namespace Kiln.Tests.Training;

/// <summary>
/// Runs <c>kiln</c> as a child process (<c>dotnet kiln.dll ...</c>) so kills and signals are real and
/// the process-wide random generator is the child's own. Shared generated shards live in one temporary
/// folder per test process.
/// </summary>
internal static class TrainerHarness
{
    private static readonly Lazy<string> DataDir = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "kiln-trainer-data-" + Environment.ProcessId);
        if (!File.Exists(Path.Combine(dir, "done")))
        {
            SyntheticShapesPacker.Write(dir, "train", 0, 96, perShard: 32);
            SyntheticShapesPacker.Write(dir, "val", 1_000_000, 37, perShard: 37);
            File.WriteAllText(Path.Combine(dir, "done"), "");
        }
        return dir;
    });

    public static string Data => DataDir.Value;
    public static string TrainSpec => Path.Combine(Data, "train-{000000..000002}.tar");
    public static string ValSpec => Path.Combine(Data, "val-000000.tar");
    public const int ValCount = 37;

    public static string KilnDll => Path.Combine(AppContext.BaseDirectory, "kiln.dll");

    public static string SmokeConfig
    {
        get
        {
            string dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "configs", "tiny-shapes-cpu.yaml"))) dir = Path.GetDirectoryName(dir)!;
            return Path.Combine(dir ?? throw new InvalidOperationException("configs/ not found above the test binaries"), "configs", "tiny-shapes-cpu.yaml");
        }
    }

    public static string RepoRoot => Path.GetDirectoryName(Path.GetDirectoryName(SmokeConfig)!)!;

    /// <summary>The smoke config pointed at the shared shards: 96 images, batch 16, 2 epochs of 6 steps, a checkpoint every 3 steps.</summary>
    public static string[] TrainArgs(string runDir, params string[] extra) =>
    [
        "train", SmokeConfig,
        "--set", $"data.train={TrainSpec}", "--set", $"data.val={ValSpec}", "--set", $"training.run_dir={runDir}",
        "--set", "training.epochs=2", "--set", "training.checkpoint_every_steps=3", "--set", "data.shuffle_buffer=32",
        .. extra,
    ];

    public sealed record Result(int Code, string Out, string Err);

    public static Process Start(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(KilnDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("KILN_FAULT");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    public static Result Run(IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutMs = 60_000)
    {
        using var p = Start(args, env);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"kiln {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>step → every loss logged for it (a resumed run logs the steps after its checkpoint again).</summary>
    public static Dictionary<long, List<double>> Losses(string runDir)
    {
        var result = new Dictionary<long, List<double>>();
        foreach (var line in File.ReadAllLines(Path.Combine(runDir, "steps.jsonl")))
        {
            JsonElement e;
            try { e = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { continue; } // a line cut by SIGKILL
            long step = e.GetProperty("step").GetInt64();
            if (!result.TryGetValue(step, out var list)) result[step] = list = [];
            list.Add(e.GetProperty("loss").GetDouble());
        }
        return result;
    }

    public static List<JsonElement> Steps(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "steps.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    public static string NewRunDir(string name) => Path.Combine(Path.GetTempPath(), "kiln-trainer-runs-" + Environment.ProcessId, name + "-" + Guid.NewGuid().ToString("N")[..6]);

    /// <summary>The uninterrupted reference run, computed once.</summary>
    public static readonly Lazy<string> Reference = new(() =>
    {
        string dir = NewRunDir("reference");
        var r = Run(TrainArgs(dir));
        if (r.Code != 0) throw new InvalidOperationException($"reference run failed ({r.Code}): {r.Err}\n{r.Out}");
        return dir;
    });

    public static string Hash(string file) => Kiln.Training.CheckpointStore.HashFile(file);

    public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
