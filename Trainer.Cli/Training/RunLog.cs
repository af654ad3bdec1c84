using System.Globalization;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Kiln.Cli.Training;

/// <summary>
/// Where a run reports: Serilog to the console (readable lines) and to <c>log.jsonl</c> in the run
/// directory (compact JSON, one event a line); <c>steps.jsonl</c> with every step's loss (bit-exact,
/// "R" formatting); <c>metrics.jsonl</c> and <c>metrics.csv</c> with evaluations. On a terminal a live
/// progress line is redrawn in place; otherwise a plain line is logged every logging.interval steps.
/// Every file is appended, so a resumed run continues the same files.
/// </summary>
public sealed class RunLog : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly Logger _logger;
    private readonly StreamWriter _steps;
    private StreamWriter _metrics, _csv;
    private readonly string _runDir;
    private readonly bool _terminal;
    private readonly int _interval;
    private long _lastDrawMs = -1000;
    private bool _progressShown;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public RunLog(string runDir, Kiln.Config.LoggingConfig config)
    {
        Directory.CreateDirectory(runDir);
        _runDir = runDir;
        var level = config.Level switch
        {
            "verbose" => LogEventLevel.Verbose,
            "debug" => LogEventLevel.Debug,
            "warning" => LogEventLevel.Warning,
            "error" => LogEventLevel.Error,
            _ => LogEventLevel.Information,
        };
        var lc = new LoggerConfiguration().MinimumLevel.Is(level)
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {Message:lj}{NewLine}{Exception}", formatProvider: Inv);
        if (config.JsonLog) lc = lc.WriteTo.File(new CompactJsonFormatter(), Path.Combine(runDir, "log.jsonl"));
        _logger = lc.CreateLogger();
        _steps = Open(Path.Combine(runDir, "steps.jsonl"), null);
        _metrics = Open(Path.Combine(runDir, "metrics.jsonl"), null);
        _csv = Open(Path.Combine(runDir, "metrics.csv"), "epoch,step,train_loss,val_loss,val_top1_error,val_top5_error,lr,images,elapsed_s");
        _terminal = !Console.IsOutputRedirected;
        _interval = config.Interval;
    }

    private static StreamWriter Open(string path, string? header)
    {
        bool exists = File.Exists(path) && new FileInfo(path).Length > 0;
        var w = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        if (!exists && header is not null) w.WriteLine(header);
        return w;
    }

    public ILogger Logger => _logger;

    /// <summary>
    /// After a resume from step <paramref name="step"/>: drops the metrics rows of later steps (they were
    /// written before the interruption and will be written again), so metrics.csv and metrics.jsonl hold
    /// each evaluation once. steps.jsonl keeps every line: a repeated step shows what the resume recomputed.
    /// </summary>
    public void ForgetAfter(long step)
    {
        _metrics.Dispose();
        _csv.Dispose();
        string csv = Path.Combine(_runDir, "metrics.csv"), jsonl = Path.Combine(_runDir, "metrics.jsonl");
        var keptCsv = File.ReadAllLines(csv).Where((l, i) => i == 0 || !(l.Split(',') is { Length: > 1 } f && long.TryParse(f[1], out long s) && s > step)).ToList();
        var keptJson = File.ReadAllLines(jsonl).Where(l => !(System.Text.RegularExpressions.Regex.Match(l, "\"step\":(\\d+)") is { Success: true } m && long.Parse(m.Groups[1].Value, Inv) > step)).ToList();
        Kiln.Serialization.AtomicFile.Write(csv, s => s.Write(System.Text.Encoding.UTF8.GetBytes(string.Concat(keptCsv.Select(l => l + "\n")))));
        Kiln.Serialization.AtomicFile.Write(jsonl, s => s.Write(System.Text.Encoding.UTF8.GetBytes(string.Concat(keptJson.Select(l => l + "\n")))));
        _metrics = Open(jsonl, null);
        _csv = Open(csv, null);
    }

    public void Info(string template, params object?[] args) { ClearProgress(); _logger.Information(template, args); }
    public void Warn(string template, params object?[] args) { ClearProgress(); _logger.Warning(template, args); }
    public void Error(string template, params object?[] args) { ClearProgress(); _logger.Error(template, args); }

    /// <summary>One optimizer step: steps.jsonl always; the console progress line or a periodic plain line.</summary>
    public void Step(long step, long totalSteps, int epoch, double loss, IReadOnlyList<double> headLosses, double lr, double imagesPerSecond, TimeSpan? eta)
    {
        var heads = string.Join(",", headLosses.Select(h => h.ToString("R", Inv)));
        _steps.WriteLine($"{{\"step\":{step},\"epoch\":{epoch},\"loss\":{loss.ToString("R", Inv)},\"heads\":[{heads}],\"lr\":{lr.ToString("R", Inv)}}}");
        string etaText = eta is { } e ? $"{(int)e.TotalHours}:{e.Minutes:D2}:{e.Seconds:D2}" : "?";
        string headText = headLosses.Count > 1 ? " (" + string.Join(" ", headLosses.Select((h, i) => $"{(i == 0 ? "main" : "aux" + i)} {h:F4}")) + ")" : "";
        if (_terminal)
        {
            long now = _clock.ElapsedMilliseconds;
            if (now - _lastDrawMs < 250 && step != totalSteps) return;
            _lastDrawMs = now;
            int width = 24;
            int filled = (int)(width * Math.Min(1.0, (double)step / Math.Max(1, totalSteps)));
            Console.Out.Write($"\r\x1b[K[{new string('#', filled)}{new string('.', width - filled)}] step {step}/{totalSteps} ep {epoch} loss {loss:F4}{headText} lr {lr:G3} {imagesPerSecond:F0} img/s ETA {etaText}");
            _progressShown = true;
        }
        else if (step % _interval == 0 || step == totalSteps)
        {
            _logger.Information("step {Step}/{Total} epoch {Epoch} loss {Loss:F4}{Heads} lr {Lr:G4} {Rate:F0} img/s ETA {Eta}",
                step, totalSteps, epoch, loss, headText, lr, imagesPerSecond, etaText);
        }
    }

    /// <summary>An evaluation: a console line, a metrics.jsonl record and a metrics.csv row.</summary>
    public void Eval(int epoch, long step, double trainLoss, double valLoss, double top1, double top5, double lr, long images, double elapsedSeconds, long count)
    {
        ClearProgress();
        _logger.Information("eval epoch {Epoch} step {Step}: top-1 error {Top1:F2}%  top-5 error {Top5:F2}%  val loss {ValLoss:F4}  ({Count} images)",
            epoch, step, top1, top5, valLoss, count);
        _metrics.WriteLine(string.Create(Inv, $"{{\"kind\":\"eval\",\"epoch\":{epoch},\"step\":{step},\"train_loss\":{J(trainLoss)},\"val_loss\":{J(valLoss)},\"val_top1_error\":{J(top1)},\"val_top5_error\":{J(top5)},\"lr\":{J(lr)},\"images\":{images},\"elapsed_s\":{J(elapsedSeconds)},\"count\":{count}}}"));
        _csv.WriteLine(string.Create(Inv, $"{epoch},{step},{trainLoss:R},{valLoss:R},{top1:R},{top5:R},{lr:R},{images},{elapsedSeconds:F1}"));
    }

    /// <summary>A training summary record in metrics.jsonl (end of an epoch or interval).</summary>
    public void TrainSummary(int epoch, long step, double meanLoss, double lr, double imagesPerSecond) =>
        _metrics.WriteLine(string.Create(Inv, $"{{\"kind\":\"train\",\"epoch\":{epoch},\"step\":{step},\"loss\":{J(meanLoss)},\"lr\":{J(lr)},\"images_per_s\":{J(imagesPerSecond)}}}"));

    private static string J(double v) => double.IsFinite(v) ? v.ToString("R", Inv) : "null";

    private void ClearProgress()
    {
        if (!_progressShown) return;
        Console.Out.Write("\r\x1b[K");
        _progressShown = false;
    }

    public void Dispose()
    {
        ClearProgress();
        _logger.Dispose();
        _steps.Dispose();
        _metrics.Dispose();
        _csv.Dispose();
    }
}
