using static Kiln.Tests.Training.TrainerHarness;

namespace Kiln.Tests.Training;

/// <summary><c>kiln sweep</c> as a child process: a failing run, killed runs resumed, finished runs skipped (fault scenarios SW-1 to SW-4).</summary>
public sealed class SweepCommandTests
{
    [Fact]
    public void Sweep_OneFailingRun_RecordedAndOthersFinish_ResumedSweepSkipsFinished()
    {
        string dir = NewRunDir("sweep");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "sweep.yaml");
        File.WriteAllText(file, $"""
            # two good learning rates and one the config refuses
            base: {SmokeConfig}
            out: {Path.Combine(dir, "out")}
            set: ["training.epochs=1", "data.train={TrainSpec}", "data.val={ValSpec}", "training.checkpoint_every_steps=3", "data.shuffle_buffer=32"]
            grid:
              optimizer.lr: [0.05, -1]
              optimizer.momentum: [0.9, 0.5]
            """);

        // First pass: every child is SIGKILLed after step 4 (a checkpoint exists at step 3): runs are left partial.
        var first = Run(["sweep", file], new Dictionary<string, string> { ["KILN_FAULT"] = "kill@step=4" });
        Assert.Equal(1, first.Code);
        Assert.Contains("exit 137", first.Out);
        Assert.Contains("config error", first.Out);

        // Second pass: partial runs resume from their checkpoints; the config error is not retried.
        var second = Run(["sweep", file]);
        Assert.Equal(1, second.Code);
        Assert.Contains("lr=0.05_momentum=0.9: resuming", second.Out);
        Assert.Contains("lr=-1_momentum=0.9: failed earlier, skipped", second.Out);
        Assert.Contains("2 ok, 2 failed", second.Out);
        string summary = File.ReadAllText(Path.Combine(dir, "out", "summary.md"));
        var rows = summary.Split('\n').Where(l => l.StartsWith("| lr=")).ToList();
        Assert.Equal(4, rows.Count);
        Assert.All(rows[..2], r => Assert.Contains("| ok |", r));        // best first
        Assert.All(rows[2..], r => Assert.Contains("| failed |", r));
        Assert.Contains("optimizer.lr: must be > 0", summary);
        var csv = File.ReadAllLines(Path.Combine(dir, "out", "summary.csv"));
        Assert.Equal(5, csv.Length);
        Assert.StartsWith("run,status,exit_code,best_top1_error", csv[0]);

        // Third pass: nothing left to run.
        var third = Run(["sweep", file]);
        Assert.Equal(1, third.Code);
        Assert.DoesNotContain("starting", third.Out);
        Assert.DoesNotContain("resuming", third.Out);
    }

    [Fact]
    public void Sweep_UnknownKey_ConfigErrorWithLine()
    {
        string dir = NewRunDir("sweepbad");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "sweep.yaml");
        File.WriteAllText(file, $"base: {SmokeConfig}\ngird:\n  optimizer.lr: [0.1]\n");
        var r = Run(["sweep", file]);
        Assert.Equal(2, r.Code);
        Assert.Contains("unknown key 'gird'", r.Err);
    }

    [Theory]
    [InlineData("alias", "the document expands to more than")]
    [InlineData("deep", "nesting deeper than")]
    [InlineData("mapvalue", "sweep values must be scalars or lists")]
    public void Sweep_HostileOrMalformedYaml_ConfigErrorNamingTheFile(string kind, string expected)
    {
        string dir = NewRunDir("sweepyaml");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "sweep.yaml");
        string text = kind switch
        {
            "alias" => "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(0, 8).Select(i =>
                           $"{(char)('b' + i)}: &{(char)('b' + i)} [{string.Join(", ", Enumerable.Repeat($"*{(char)('a' + i)}", 10))}]\n")),
            "deep" => "base: x\ngrid: " + new string('[', 200) + new string(']', 200) + "\n",
            _ => $"base: {SmokeConfig}\nlist:\n  - {{optimizer.lr: {{nested: 1}}}}\n",
        };
        File.WriteAllText(file, text);
        var r = Run(["sweep", file]);
        Assert.Equal(2, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.Contains("sweep.yaml", r.Err);
    }
}
