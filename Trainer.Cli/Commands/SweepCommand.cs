using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CommandLine;
using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Serialization;

namespace Kiln.Cli.Commands;

[Verb("sweep", HelpText = "Run a base config over a grid or list of overrides, one run directory per combination, with a summary table: kiln sweep sweep.yaml.")]
public sealed class SweepOptions : CommonOptions
{
    [Value(0, MetaName = "sweep", Required = true, HelpText = "Sweep file: base (config path, relative to the file), out (directory), grid or list of key.path: values, optional set.")]
    public string Sweep { get; set; } = "";

    [Option("fail-fast", HelpText = "Stop at the first failed run.")]
    public bool FailFast { get; set; }
}

/// <summary>One combination of a sweep.</summary>
public sealed record SweepRun(string Name, IReadOnlyList<(string Key, string Value)> Overrides);

/// <summary>What the runner records for a run in its directory (status.json, written atomically).</summary>
public sealed record SweepStatus
{
    public string Name { get; init; } = "";
    public List<string> Overrides { get; init; } = [];
    /// <summary>running, ok or failed.</summary>
    public string Status { get; init; } = "";
    public int? ExitCode { get; init; }
    public string? Error { get; init; }
    public double ElapsedSeconds { get; init; }
    public double? FinalTop1 { get; init; }
    public double? FinalTop5 { get; init; }
    public double? BestTop1 { get; init; }
    public double? BestTop5 { get; init; }
    public string Log { get; init; } = "";
}

/// <summary>
/// <c>kiln sweep</c>: each run is its own <c>kiln train</c> process with its own directory (SW-5). A failed
/// run is recorded (exit code, first error line, log path) and the sweep goes on (SW-1). Started again,
/// the sweep skips finished runs, resumes killed or preempted ones from their checkpoints, and does not
/// retry deterministic failures (config or data errors, non-finite loss) (SW-2, SW-3). A run that
/// finished without a finite validation metric counts as failed (SW-4). Exit code 1 if any run failed.
/// </summary>
public static class SweepCommand
{
    private static readonly int[] Deterministic = [ExitCodes.ConfigError, ExitCodes.DataError, ExitCodes.NonFinite];

    public static int Run(SweepOptions o, TextWriter stdout)
    {
        o.Apply();
        var (baseConfig, outDir, common, runs) = Read(o.Sweep);
        Directory.CreateDirectory(outDir);
        stdout.WriteLine($"sweep {o.Sweep}: {runs.Count} run(s) of {baseConfig} into {outDir}");
        var statuses = new List<SweepStatus>();
        foreach (var run in runs)
        {
            string runDir = Path.Combine(outDir, run.Name);
            string statusPath = Path.Combine(runDir, "status.json");
            var previous = File.Exists(statusPath) ? JsonSerializer.Deserialize<SweepStatus>(File.ReadAllText(statusPath)) : null;
            if (previous is { Status: "ok" } || (previous is { Status: "failed", ExitCode: int code } && Deterministic.Contains(code)))
            {
                stdout.WriteLine($"  {run.Name}: {previous.Status} earlier, skipped");
                statuses.Add(previous);
                continue;
            }
            bool resume = Directory.Exists(Path.Combine(runDir, "checkpoints")) && Directory.EnumerateDirectories(Path.Combine(runDir, "checkpoints"), "step-*").Any();
            stdout.WriteLine($"  {run.Name}: {(resume ? "resuming" : "starting")}");
            var status = RunOne(baseConfig, common, run, runDir, resume, previous?.ElapsedSeconds ?? 0);
            statuses.Add(status);
            stdout.WriteLine($"  {run.Name}: {status.Status}{(status.ExitCode is int c && c != 0 ? $" (exit {c}: {status.Error})" : "")}, {status.ElapsedSeconds:F1} s");
            if (o.FailFast && status.Status != "ok") break;
        }
        WriteSummary(outDir, statuses, stdout);
        return statuses.All(s => s.Status == "ok") && statuses.Count == runs.Count ? 0 : 1;
    }

    private static SweepStatus RunOne(string baseConfig, IReadOnlyList<string> common, SweepRun run, string runDir, bool resume, double earlierSeconds)
    {
        Directory.CreateDirectory(runDir);
        string statusPath = Path.Combine(runDir, "status.json");
        string log = Path.Combine(runDir, "console.log");
        var overrides = run.Overrides.Select(x => $"{x.Key}={x.Value}").ToList();
        WriteStatus(statusPath, new SweepStatus { Name = run.Name, Overrides = overrides, Status = "running", Log = log, ElapsedSeconds = earlierSeconds });
        var (exe, prefix) = Self();
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("train");
        psi.ArgumentList.Add(baseConfig);
        foreach (var s in common.Concat(overrides).Append($"training.run_dir={runDir}"))
        {
            psi.ArgumentList.Add("--set");
            psi.ArgumentList.Add(s);
        }
        if (resume) psi.ArgumentList.Add("--resume");
        if (resume) psi.ArgumentList.Add("auto");
        var clock = Stopwatch.StartNew();
        int exit;
        using (var writer = new StreamWriter(log, append: true) { AutoFlush = true })
        using (var p = Process.Start(psi)!)
        {
            var lockObj = new object();
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lockObj) writer.WriteLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lockObj) writer.WriteLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            p.WaitForExit();
            exit = p.ExitCode;
        }
        double elapsed = clock.Elapsed.TotalSeconds + earlierSeconds;
        var (final1, final5, best1, best5) = Metrics(runDir);
        string? error = exit == 0 ? null : FirstError(log, exit);
        string status = exit == 0 ? "ok" : "failed";
        if (exit == 0 && final1 is null or double.NaN)
        {
            status = "failed";
            error = "finished without a finite validation top-1 error (no data.val, or NaN)";
        }
        var result = new SweepStatus
        {
            Name = run.Name,
            Overrides = overrides,
            Status = status,
            ExitCode = exit,
            Error = error,
            ElapsedSeconds = elapsed,
            FinalTop1 = final1,
            FinalTop5 = final5,
            BestTop1 = best1,
            BestTop5 = best5,
            Log = log,
        };
        WriteStatus(statusPath, result);
        return result;
    }

    private static void WriteStatus(string path, SweepStatus status) =>
        AtomicFile.Write(path, s => JsonSerializer.Serialize(s, status, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>How to start this program again: the apphost, or <c>dotnet kiln.dll</c>.</summary>
    private static (string Exe, string[] Prefix) Self()
    {
        string exe = Environment.ProcessPath ?? "dotnet";
        string dll = typeof(SweepCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(exe) == "dotnet" ? (exe, [dll]) : (exe, []);
    }

    private static string FirstError(string log, int exit)
    {
        var lines = File.Exists(log) ? File.ReadAllLines(log) : [];
        string? line = lines.FirstOrDefault(l => l.Contains(" ERR ")) ?? lines.LastOrDefault(l => l.StartsWith("kiln", StringComparison.Ordinal));
        string kind = exit switch
        {
            ExitCodes.ConfigError => "config error",
            ExitCodes.DataError => "data error",
            ExitCodes.OutOfMemory => "out of memory",
            ExitCodes.NonFinite => "non-finite loss",
            ExitCodes.CheckpointError => "checkpoint I/O",
            ExitCodes.DeviceError => "device error",
            ExitCodes.Preempted => "preempted",
            137 => "killed",
            _ => "error",
        };
        return $"{kind}: {(line ?? "(no error line in the log)").Trim()}";
    }

    private static (double? Final1, double? Final5, double? Best1, double? Best5) Metrics(string runDir)
    {
        string csv = Path.Combine(runDir, "metrics.csv");
        if (!File.Exists(csv)) return (null, null, null, null);
        var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).Where(r => r.Length >= 6)
            .Select(r => (Top1: Parse(r[4]), Top5: Parse(r[5]))).ToList();
        if (rows.Count == 0) return (null, null, null, null);
        var best = rows.Where(r => double.IsFinite(r.Top1)).OrderBy(r => r.Top1).FirstOrDefault(rows[^1]);
        return (rows[^1].Top1, rows[^1].Top5, best.Top1, best.Top5);
        static double Parse(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
    }

    private static void WriteSummary(string outDir, List<SweepStatus> statuses, TextWriter stdout)
    {
        var ordered = statuses.OrderBy(s => s.Status == "ok" ? 0 : 1).ThenBy(s => s.BestTop1 ?? double.MaxValue).ToList();
        var md = new StringBuilder();
        md.AppendLine("| run | status | best top-1 err (%) | best top-5 err (%) | final top-1 err (%) | final top-5 err (%) | time (s) | error |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        var csv = new StringBuilder("run,status,exit_code,best_top1_error,best_top5_error,final_top1_error,final_top5_error,elapsed_s,error,log\n");
        foreach (var s in ordered)
        {
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Name} | {s.Status} | {N(s.BestTop1)} | {N(s.BestTop5)} | {N(s.FinalTop1)} | {N(s.FinalTop5)} | {s.ElapsedSeconds:F1} | {(s.Error ?? "").Replace("|", "\\|")} |"));
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Name},{s.Status},{s.ExitCode},{N(s.BestTop1)},{N(s.BestTop5)},{N(s.FinalTop1)},{N(s.FinalTop5)},{s.ElapsedSeconds:F1},\"{(s.Error ?? "").Replace("\"", "\"\"")}\",{s.Log}"));
        }
        AtomicFile.Write(Path.Combine(outDir, "summary.md"), st => st.Write(Encoding.UTF8.GetBytes(md.ToString())));
        AtomicFile.Write(Path.Combine(outDir, "summary.csv"), st => st.Write(Encoding.UTF8.GetBytes(csv.ToString())));
        stdout.WriteLine();
        stdout.Write(md.ToString());
        int failed = statuses.Count(s => s.Status != "ok");
        stdout.WriteLine($"{statuses.Count - failed} ok, {failed} failed; summary in {Path.Combine(outDir, "summary.md")} and summary.csv");
        static string N(double? v) => v is double d && double.IsFinite(d) ? d.ToString("F2", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>Reads a sweep file: base, out, grid (every combination, in file order) or list, and set.</summary>
    public static (string Base, string Out, List<string> Common, List<SweepRun> Runs) Read(string path)
    {
        if (!File.Exists(path)) throw new RunStopException(ExitCodes.ConfigError, $"sweep file '{path}' not found");
        // YamlTree: the run configs' reader, with their depth and alias-bomb limits and line numbers.
        YamlTreeNode? rootNode;
        try { rootNode = YamlTree.Parse(File.ReadAllText(path), path); }
        catch (ConfigException e) { throw new RunStopException(ExitCodes.ConfigError, e.Message); }
        if (rootNode is not YamlTreeMapping root)
            throw new RunStopException(ExitCodes.ConfigError, $"{path}: expected a mapping with base, out and grid or list");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string? baseConfig = null, outDir = null;
        var common = new List<string>();
        var runs = new List<SweepRun>();
        var problems = new List<string>();
        foreach (var (keyNode, value) in root.Entries)
        {
            string key = keyNode.Value;
            switch (key)
            {
                case "base": baseConfig = Path.Combine(dir, Scalar(value, path)); break;
                case "out": outDir = Path.GetFullPath(Scalar(value, path)); break;
                case "set":
                    if (value is YamlTreeSequence set) common.AddRange(set.Items.Select(i => Scalar(i, path)));
                    else problems.Add($"{path}:{value.Line}: set must be a list of key.path=value");
                    break;
                case "grid":
                    if (value is not YamlTreeMapping grid) { problems.Add($"{path}:{value.Line}: grid must map key.path to a list of values"); break; }
                    var axes = grid.Entries.Select(kv => (Key: kv.Key.Value,
                        Values: kv.Value is YamlTreeSequence seq ? seq.Items.Select(i => Text(i, path)).ToList() : [Text(kv.Value, path)])).ToList();
                    IEnumerable<List<(string, string)>> combos = [[]];
                    foreach (var axis in axes)
                        combos = combos.SelectMany(c => axis.Values.Select(v => new List<(string, string)>(c) { (axis.Key, v) })).ToList();
                    runs.AddRange(combos.Select(c => new SweepRun(Name(c), c)));
                    break;
                case "list":
                    if (value is not YamlTreeSequence list) { problems.Add($"{path}:{value.Line}: list must be a list of mappings"); break; }
                    foreach (var item in list.Items)
                    {
                        if (item is not YamlTreeMapping run) { problems.Add($"{path}:{item.Line}: each list entry must be a mapping of key.path: value"); continue; }
                        var c = run.Entries.Select(kv => (kv.Key.Value, Text(kv.Value, path))).ToList();
                        runs.Add(new SweepRun(Name(c), c));
                    }
                    break;
                default:
                    problems.Add($"{path}:{keyNode.Line}:{keyNode.Column}: unknown key '{key}' (expected base, out, set, grid or list)");
                    break;
            }
        }
        if (baseConfig is null) problems.Add($"{path}: 'base' (the run config) is required");
        if (runs.Count == 0) problems.Add($"{path}: no runs: give a grid or a list");
        var dupes = runs.GroupBy(r => r.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (dupes.Count > 0) problems.Add($"{path}: runs with the same name: {string.Join(", ", dupes)}");
        if (problems.Count > 0) throw new RunStopException(ExitCodes.ConfigError, string.Join("\n", problems));
        outDir ??= Path.Combine(dir, "runs", Path.GetFileNameWithoutExtension(path));
        return (baseConfig!, outDir, common, runs);
    }

    private static string Scalar(YamlTreeNode n, string path) => n is YamlTreeScalar s ? s.Value
        : throw new RunStopException(ExitCodes.ConfigError, $"{path}:{n.Line}:{n.Column}: expected a plain value");

    private static string Text(YamlTreeNode n, string path) => n switch
    {
        YamlTreeScalar s => s.Value,
        YamlTreeSequence q => "[" + string.Join(", ", q.Items.Select(i => Text(i, path))) + "]",
        _ => throw new RunStopException(ExitCodes.ConfigError, $"{path}:{n.Line}:{n.Column}: sweep values must be scalars or lists"),
    };

    /// <summary>A directory name from the values: lr=0.1_batch_size=32 (last key segment, unsafe characters replaced).</summary>
    public static string Name(IReadOnlyList<(string Key, string Value)> combo)
    {
        var parts = combo.Select(c => $"{c.Key.Split('.')[^1]}={c.Value}");
        var name = string.Join("_", parts);
        var sb = new StringBuilder();
        foreach (char ch in name) sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '=' or '-' or '_' ? ch : '-');
        return sb.Length == 0 ? "base" : sb.ToString();
    }
}
