using System.Globalization;
using System.Text.Json;

namespace Kiln.Visualization;

/// <summary>
/// The metrics of one training run, read from its run directory: <c>metrics.csv</c> (preferred) or
/// <c>metrics.jsonl</c>. Columns (or JSON keys) read, by name, in any order; others are ignored, and
/// an empty cell is a missing value:
/// <list type="bullet">
/// <item><c>epoch</c> (fractional epochs allowed), <c>step</c>, <c>images</c> (images seen so far): the x axes;</item>
/// <item><c>train_loss</c>, <c>val_loss</c>;</item>
/// <item><c>train_top1_err</c>, <c>val_top1_err</c>, <c>val_top5_err</c>: errors as fractions in [0, 1]
/// (<c>*_top1_acc</c>/<c>*_top5_acc</c> columns are read as 1 − accuracy when no error column exists).</item>
/// </list>
/// <c>kiln train</c> writes <c>epoch,step,train_loss,val_loss,val_top1_error,val_top5_error,lr,images,elapsed_s</c>,
/// one row per evaluation, with errors in percent: a <c>*_error</c> column is read as percent and
/// becomes the matching <c>*_err</c> fraction.
/// A row without a validation value is a training-only row (logged between evaluations).
/// </summary>
public sealed class RunMetrics
{
    public static readonly string[] Columns = ["epoch", "step", "images", "train_loss", "val_loss", "train_top1_err", "val_top1_err", "val_top5_err"];

    private readonly Dictionary<string, double[]> _series;

    private RunMetrics(string name, Dictionary<string, double[]> series, int rows)
    {
        Name = name;
        _series = series;
        Rows = rows;
    }

    /// <summary>Legend name: the run directory's name.</summary>
    public string Name { get; }
    public int Rows { get; }

    /// <summary>Values of a column, NaN where missing (all NaN if the column is absent).</summary>
    public double[] this[string column] => _series.TryGetValue(column, out var v) ? v : Enumerable.Repeat(double.NaN, Rows).ToArray();

    public bool Has(string column) => _series.TryGetValue(column, out var v) && v.Any(x => !double.IsNaN(x));

    /// <summary>
    /// The runs at <paramref name="path"/>: the run itself when it holds metrics, else every
    /// subdirectory that does (a sweep directory of <c>kiln sweep</c>), in name order.
    /// </summary>
    public static IReadOnlyList<RunMetrics> ReadRuns(string path)
    {
        if (!Directory.Exists(path) || HasMetrics(path)) return [Read(path)];
        var runs = Directory.GetDirectories(path).Where(HasMetrics).Order(StringComparer.Ordinal).Select(Read).ToList();
        return runs.Count > 0 ? runs
            : throw new FileNotFoundException($"'{path}' has no metrics.csv or metrics.jsonl, nor any subdirectory with one");
    }

    private static bool HasMetrics(string dir) =>
        File.Exists(Path.Combine(dir, "metrics.csv")) || File.Exists(Path.Combine(dir, "metrics.jsonl"));

    /// <summary>Reads <paramref name="runDir"/>/metrics.csv or metrics.jsonl (or the file itself if a file is given).</summary>
    public static RunMetrics Read(string runDir)
    {
        string file = runDir;
        if (Directory.Exists(runDir))
        {
            file = Path.Combine(runDir, "metrics.csv");
            if (!File.Exists(file)) file = Path.Combine(runDir, "metrics.jsonl");
            if (!File.Exists(file)) throw new FileNotFoundException($"run directory '{runDir}' has neither metrics.csv nor metrics.jsonl", file);
        }
        else if (!File.Exists(runDir)) throw new FileNotFoundException($"no run directory or metrics file '{runDir}'", runDir);
        string name = Directory.Exists(runDir) ? Path.GetFileName(Path.GetFullPath(runDir).TrimEnd(Path.DirectorySeparatorChar))
            : Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(file))) ?? file;
        // The trainer keeps metrics.csv open for appending while it calls us: share it.
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line);
        return file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? FromJsonLines(name, lines, file) : FromCsv(name, lines, file);
    }

    /// <summary>Parses CSV text (header line first).</summary>
    public static RunMetrics FromCsv(string name, IReadOnlyList<string> lines, string source = "metrics.csv")
    {
        if (lines.Count == 0 || string.IsNullOrWhiteSpace(lines[0])) throw new FormatException($"{source}: empty, expected a header line with columns such as {string.Join(",", Columns)}");
        var header = lines[0].Split(',').Select(h => h.Trim().Trim('"').ToLowerInvariant()).ToArray();
        var rows = new List<double[]>();
        for (int i = 1; i < lines.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            var cells = lines[i].Split(',');
            var row = new double[header.Length];
            for (int j = 0; j < header.Length; j++)
            {
                string cell = j < cells.Length ? cells[j].Trim().Trim('"') : "";
                row[j] = cell.Length == 0 ? double.NaN
                    : double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
            }
            rows.Add(row);
        }
        var series = new Dictionary<string, double[]>();
        for (int j = 0; j < header.Length; j++) series[header[j]] = rows.Select(r => r[j]).ToArray();
        return Finish(name, series, rows.Count, source);
    }

    /// <summary>Parses JSON lines, one object per row.</summary>
    public static RunMetrics FromJsonLines(string name, IReadOnlyList<string> lines, string source = "metrics.jsonl")
    {
        var objects = new List<Dictionary<string, double>>();
        foreach (var line in lines)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var row = new Dictionary<string, double>();
            foreach (var p in doc.RootElement.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.Number) row[p.Name.ToLowerInvariant()] = p.Value.GetDouble();
            objects.Add(row);
        }
        var series = new Dictionary<string, double[]>();
        foreach (var key in objects.SelectMany(o => o.Keys).Distinct())
            series[key] = objects.Select(o => o.TryGetValue(key, out var v) ? v : double.NaN).ToArray();
        return Finish(name, series, objects.Count, source);
    }

    private static RunMetrics Finish(string name, Dictionary<string, double[]> series, int rows, string source)
    {
        foreach (var err in new[] { "train_top1_err", "val_top1_err", "val_top5_err" })
            if (!series.ContainsKey(err) && series.TryGetValue(err + "or", out var percent)) series[err] = percent.Select(v => v / 100).ToArray();
        foreach (var (err, acc) in new[] { ("train_top1_err", "train_top1_acc"), ("val_top1_err", "val_top1_acc"), ("val_top5_err", "val_top5_acc") })
            if (!series.ContainsKey(err) && series.TryGetValue(acc, out var a)) series[err] = a.Select(v => 1 - v).ToArray();
        if (!series.ContainsKey("epoch") && !series.ContainsKey("step") && !series.ContainsKey("images"))
            throw new FormatException($"{source}: needs an 'epoch', 'step' or 'images' column, has {string.Join(", ", series.Keys)}");
        return new RunMetrics(name, series, rows);
    }
}
