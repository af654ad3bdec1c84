using System.Diagnostics;
using Kiln.Data;
using Kiln.Models;
using Kiln.Training;
using static Kiln.Tests.Training.TrainerHarness;

namespace Kiln.Tests.Training;

/// <summary>Resume-state mutation (RS-2), a second SIGINT (RS-5), bad gradients (NU-1), data faults at the trainer (DA-4, DA-6).</summary>
public sealed class ResumeFaultTests
{
    // Killed at step 10: the newest checkpoint (step 9) is mid-epoch, so the loader position matters.
    private static readonly Lazy<string> KilledAt10 = new(() =>
    {
        string run = NewRunDir("killed10-ema");
        var r = Run(TrainArgs(run, "--set", "training.ema_decay=0.9"), new Dictionary<string, string> { ["KILN_FAULT"] = "kill@step=10" });
        if (r.Code != 137) throw new InvalidOperationException($"expected a SIGKILL, got {r.Code}: {r.Err}");
        return run;
    });

    private static readonly Lazy<string> EmaReference = new(() =>
    {
        string run = NewRunDir("reference-ema");
        var r = Run(TrainArgs(run, "--set", "training.ema_decay=0.9"));
        if (r.Code != 0) throw new InvalidOperationException($"EMA reference failed ({r.Code}): {r.Err}");
        return run;
    });

    private static string CopyOf(string dir)
    {
        string copy = NewRunDir("copy");
        foreach (var f in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(copy, Path.GetRelativePath(dir, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        return copy;
    }

    [Theory]
    [InlineData("")]          // control: everything restored, bit-exact
    [InlineData("rng")]       // dropout masks come from the global generator
    [InlineData("momentum")]
    [InlineData("position")]  // the loader would restart the epoch
    [InlineData("ema")]       // the averaged weights decide the validation metrics
    public void Resume_DroppingAnyPartOfTheState_BreaksExactness(string drop)
    {
        string run = CopyOf(KilledAt10.Value);
        var r = Run(TrainArgs(run, "--set", "training.ema_decay=0.9", "--resume", "auto", "--allow-config-change"),
            new Dictionary<string, string> { ["KILN_RESUME_DROP"] = drop });
        Assert.True(r.Code == 0, r.Err + r.Out);
        var expected = File.ReadAllLines(Path.Combine(EmaReference.Value, "metrics.csv")).Select(l => string.Join(',', l.Split(',')[..6])).ToList();
        var actual = File.ReadAllLines(Path.Combine(run, "metrics.csv")).Select(l => string.Join(',', l.Split(',')[..6])).ToList();
        bool lossesSame = Losses(EmaReference.Value).All(kv => Losses(run)[kv.Key].All(l => l == kv.Value[0]));
        bool same = lossesSame && expected.SequenceEqual(actual);
        if (drop == "") Assert.True(same, "a full resume must be exact");
        else Assert.False(same, $"dropping '{drop}' from the checkpoint should change the run");
    }

    [Fact]
    public void NonFiniteGradient_StopNamesStepAndFirstBadParameter()
    {
        using var net = ModelZoo.Create("tiny");
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        string poisoned = names[names.Count / 2];
        var r = Run(TrainArgs(NewRunDir("infgrad"), "--set", "training.epochs=1", "--set", "data.val=null"),
            new Dictionary<string, string> { ["KILN_FAULT"] = "inf_grad@step=4" });
        Assert.Equal(5, r.Code);
        Assert.Contains("step 4", r.Out);
        Assert.Contains($"gradient of '{poisoned}' is not finite", r.Out);
    }

    [Fact]
    public async Task Signal_SecondSigint_ExitsAtOnceWithCommittedCheckpointsValid()
    {
        var ct = TestContext.Current.CancellationToken;
        string run = NewRunDir("sigint2");
        // Steps of 400 ms: the second SIGINT (100 ms after the first; standard signals do not queue) lands mid-step.
        using var p = Start(TrainArgs(run, "--set", "training.epochs=40"), new Dictionary<string, string> { ["KILN_FAULT"] = "sleep@step_ms=400" });
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        string steps = Path.Combine(run, "steps.jsonl");
        var clock = Stopwatch.StartNew();
        while ((!File.Exists(steps) || File.ReadAllLines(steps).Length < 1) && clock.ElapsedMilliseconds < 30_000 && !p.HasExited) await Task.Delay(20, ct);
        using (var kill = Process.Start("sh", ["-c", $"kill -INT {p.Id}; sleep 0.1; kill -INT {p.Id}"])) await kill.WaitForExitAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(30_000);
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); Assert.Fail("no exit after two SIGINTs"); }
        string output = await stdout + await stderr;
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}: {output}");
        Assert.Contains("second signal", output);
        Assert.All(new CheckpointStore(Path.Combine(run, "checkpoints")).VerifyAll(), c => Assert.True(c.IsValid, c.Problem));
    }

    [Fact]
    public void DataBudget_TooManyBadSamples_DataErrorWithCounts()
    {
        string dir = NewRunDir("baddata");
        Directory.CreateDirectory(dir);
        SyntheticShapesPacker.Write(dir, "good", 0, 40, perShard: 40);
        using (var w = new ShardWriter(Path.Combine(dir, "bad-000000.tar")))
        {
            for (int i = 0; i < 5; i++) w.WriteSample($"junk{i}", [0xFF, 0xD8, 0xFF, 1, 2, 3], "jpg", 1);
            for (int i = 0; i < 5; i++) w.WriteSample($"label{i}", [0x89, 0x50, 0x4E, 0x47], "png", 9); // class 9 of 4: caught on the host
            w.Complete();
        }
        var r = Run(TrainArgs(Path.Combine(dir, "run"), "--set", $"data.train={Path.Combine(dir, "{good,bad}-000000.tar")}", "--set", "data.max_bad_fraction=0.05",
            "--set", "data.val=null", "--set", "training.epochs=1"));
        Assert.True(r.Code == 3, r.Err + r.Out);
        Assert.Contains("bad-sample fraction", r.Out);
        Assert.Contains("LabelOutOfRange", r.Out);
        Assert.Contains("bad-000000.tar", r.Out);   // the worst shard is named
        Assert.Contains("label0", File.ReadAllText(Path.Combine(dir, "run", "bad-samples.tsv")));
    }

    [Fact]
    public void MissingValidationSet_FailsAtStartupNamingThePath()
    {
        var r = Run(TrainArgs(NewRunDir("noval"), "--set", $"data.val={Path.Combine(TrainerHarness.Data, "no-such-val.tar")}"));
        Assert.Equal(3, r.Code);
        Assert.Contains("no-such-val.tar", r.Out + r.Err);
        Assert.DoesNotContain("step 1", r.Out);
    }
}
