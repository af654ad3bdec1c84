using System.Diagnostics;
using System.Text.Json;
using Kiln.Training;
using static Kiln.Tests.Training.TrainerHarness;

[assembly: AssemblyFixture(typeof(Kiln.Tests.Training.TrainerTempCleanup))]

namespace Kiln.Tests.Training;

/// <summary>Deletes the generated shards and run directories of this test process at the end.</summary>
public sealed class TrainerTempCleanup : IDisposable
{
    public void Dispose()
    {
        foreach (var prefix in new[] { "kiln-trainer-data-", "kiln-trainer-runs-" })
        {
            string dir = Path.Combine(Path.GetTempPath(), prefix + Environment.ProcessId);
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        }
    }
}

/// <summary><c>kiln train</c> as a child process on the tiny smoke config: outputs, exact resume, faults (fault-scenarios 2.1, 2.2, NU-1).</summary>
public sealed class TrainCommandTests
{
    [Fact]
    public void Train_SmokeConfig_WritesLogsMetricsAndCheckpoints()
    {
        string run = Reference.Value;
        foreach (var f in new[] { "config.yaml", "log.jsonl", "steps.jsonl", "metrics.jsonl", "metrics.csv" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var csv = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.StartsWith("epoch,step,train_loss,val_loss,val_top1_error,val_top5_error", csv[0]);
        Assert.Equal(3, csv.Length); // header + one evaluation per epoch
        Assert.Equal(12, Losses(run).Count);
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"));
        Assert.NotNull(store.Best);
        Assert.EndsWith("step-000000012", store.Latest);
        var state = CheckpointStore.Verify(store.Latest!);
        Assert.True(state.IsValid, state.Problem);
        Assert.Equal(12, state.State!.Step);
        Assert.Equal(2, state.State.Epoch);
        Assert.Contains(state.State.Generators, g => g.Name == "global" && g.Offset > 0);
        Assert.Contains("model.safetensors", state.State.Files.Keys);
        Assert.Contains("optimizer.safetensors", state.State.Files.Keys);
        Assert.Contains("num_classes: 4", state.State.Config);
        Assert.True(store.List().Count <= 4, "keep_checkpoints 3 plus best");
        var log = File.ReadAllLines(Path.Combine(run, "log.jsonl"));
        Assert.Contains(log, l => l.Contains("\"@t\"") && l.Contains("resolved config"));
    }

    [Fact]
    public void Train_AuxiliaryHead_LossIsMainPlusWeightedAux()
    {
        foreach (var step in Steps(Reference.Value))
        {
            var heads = step.GetProperty("heads").EnumerateArray().Select(h => h.GetDouble()).ToArray();
            Assert.Equal(2, heads.Length);
            Assert.Equal(heads[0] + 0.3 * heads[1], step.GetProperty("loss").GetDouble(), 1e-5);
        }
        string run = NewRunDir("aux05");
        var r = Run(TrainArgs(run, "--set", "training.aux_loss_weights=[0.5]", "--set", "training.epochs=1", "--set", "data.val=null"));
        Assert.True(r.Code == 0, r.Err + r.Out);
        foreach (var step in Steps(run))
        {
            var heads = step.GetProperty("heads").EnumerateArray().Select(h => h.GetDouble()).ToArray();
            Assert.Equal(heads[0] + 0.5 * heads[1], step.GetProperty("loss").GetDouble(), 1e-5);
        }
    }

    [Theory]
    [InlineData(7)]   // mid-epoch, one step after a checkpoint
    [InlineData(6)]   // exactly at the epoch boundary (0 steps left in epoch 0), on a checkpoint
    public void Resume_AfterSigkill_SameLossesBitForBit(int killAfterStep)
    {
        string reference = Reference.Value;
        string run = NewRunDir("killed");
        var killed = Run(TrainArgs(run), new Dictionary<string, string> { ["KILN_FAULT"] = $"kill@step={killAfterStep}" });
        Assert.Equal(137, killed.Code);
        var resumed = Run(TrainArgs(run, "--resume", "auto"));
        Assert.True(resumed.Code == 0, resumed.Err + resumed.Out);
        Assert.Contains("resumed from", resumed.Out);
        Assert.Contains("batches as float32 NCHW", resumed.Out);   // the CPU keeps its float path (Note [Uint8 batches])
        AssertSameLosses(reference, run);
        Assert.Equal(Hash(Path.Combine(reference, "checkpoints", "step-000000012", "model.safetensors")),
                     Hash(Path.Combine(run, "checkpoints", "step-000000012", "model.safetensors")));
        Assert.Equal(File.ReadAllLines(Path.Combine(reference, "metrics.csv")).Select(Metrics),
                     File.ReadAllLines(Path.Combine(run, "metrics.csv")).Select(Metrics));
    }

    private static string Metrics(string csvLine) => string.Join(',', csvLine.Split(',')[..6]);

    internal static void AssertSameLosses(string reference, string run)
    {
        var expected = Losses(reference);
        var actual = Losses(run);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (step, losses) in actual)
            foreach (var loss in losses)
                Assert.True(BitConverter.DoubleToInt64Bits(expected[step][0]) == BitConverter.DoubleToInt64Bits(loss),
                    $"step {step}: {F(loss)} after resume, {F(expected[step][0])} uninterrupted");
    }

    [Theory]
    [InlineData(3_000)]    // inside the first checkpoint's model file: no checkpoint committed yet
    [InlineData(200_000)]  // inside the third (~84 kB each): the epoch-end one written after the evaluation at step 6
    public void Resume_AfterKillDuringCheckpointWrite_PreviousCheckpointLoadsAndRunMatches(long bytes)
    {
        string run = NewRunDir("killsave");
        var killed = Run(TrainArgs(run), new Dictionary<string, string> { ["KILN_FAULT"] = $"kill@ckpt_bytes={bytes}" });
        Assert.Equal(137, killed.Code);
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"));
        Assert.All(store.VerifyAll(), c => Assert.True(c.IsValid, c.Problem)); // nothing partial at a final name
        Assert.Contains(Directory.GetDirectories(store.Directory), d => Path.GetFileName(d).StartsWith(".tmp-"));
        var resumed = Run(TrainArgs(run, "--resume", "auto"));
        Assert.True(resumed.Code == 0, resumed.Err + resumed.Out);
        Assert.DoesNotContain(Directory.GetDirectories(store.Directory), d => Path.GetFileName(d).StartsWith(".tmp-"));
        AssertSameLosses(Reference.Value, run);
        // An evaluation written before the kill and redone after the resume appears once.
        Assert.Equal(File.ReadAllLines(Path.Combine(Reference.Value, "metrics.csv")).Select(Metrics),
                     File.ReadAllLines(Path.Combine(run, "metrics.csv")).Select(Metrics));
    }

    [Fact]
    public void Resume_ChangedConfig_RefusedListingDifferences_AllowedWithFlag()
    {
        string run = NewRunDir("changed");
        var first = Run(TrainArgs(run, "--set", "training.epochs=1"));
        Assert.True(first.Code == 0, first.Err + first.Out);

        var refused = Run(TrainArgs(run, "--set", "training.epochs=1", "--set", "optimizer.lr=0.2", "--set", "data.batch_size=8", "--resume", "auto"));
        Assert.Equal(2, refused.Code);
        string all = refused.Out + refused.Err;
        Assert.Contains("optimizer.lr: checkpoint 0.05, now 0.2", all);
        Assert.Contains("data.batch_size: checkpoint 16, now 8", all);
        Assert.Contains("--allow-config-change", all);

        var harmless = Run(TrainArgs(run, "--set", "training.epochs=1", "--set", "logging.interval=2", "--resume", "auto"));
        Assert.True(harmless.Code == 0, harmless.Err + harmless.Out);
        Assert.Contains("logging.interval", harmless.Out);

        var allowed = Run(TrainArgs(run, "--set", "training.epochs=2", "--resume", "auto", "--allow-config-change"));
        Assert.True(allowed.Code == 0, allowed.Err + allowed.Out);
        Assert.Contains("training.epochs", allowed.Out);
        Assert.Equal(12, Losses(run).Count);
    }

    private static readonly Lazy<string> OneEpochRun = new(() =>
    {
        string run = NewRunDir("one-epoch");
        var r = Run(TrainArgs(run, "--set", "training.epochs=1", "--set", "data.val=null"));
        if (r.Code != 0) throw new InvalidOperationException($"one-epoch run failed ({r.Code}): {r.Err}");
        return run;
    });

    [Theory]
    [InlineData("training.seed=7", "training.seed: checkpoint 1, now 7")]
    [InlineData("model.num_classes=5", "model.num_classes: checkpoint 4, now 5")]
    [InlineData("optimizer.momentum_form=caffe", "optimizer.momentum_form: checkpoint pytorch, now caffe")]
    [InlineData("data.train=" + "SHARD0", "loader fingerprint")]
    public void Resume_SemanticChange_RefusedNamingBothValues(string change, string expected)
    {
        string run = OneEpochRun.Value;
        string config = File.ReadAllText(Path.Combine(run, "config.yaml"));
        change = change.Replace("SHARD0", Path.Combine(TrainerHarness.Data, "train-000000.tar"));
        var r = Run(TrainArgs(run, "--set", "training.epochs=1", "--set", "data.val=null", "--set", change, "--resume", "auto"));
        Assert.True(r.Code == 2, r.Err + r.Out);
        Assert.Contains(expected, r.Out + r.Err);
        Assert.Equal(config, File.ReadAllText(Path.Combine(run, "config.yaml")));
    }

    [Fact]
    public void Resume_ExplicitOlderCheckpoint_RewritesLaterCheckpointsIdentically()
    {
        string run = NewRunDir("older");
        foreach (var f in Directory.GetFiles(Reference.Value, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(run, Path.GetRelativePath(Reference.Value, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"));
        var oldest = store.List()[^1];
        Assert.True(oldest.Step < 12);
        var r = Run(TrainArgs(run, "--resume", oldest.Path));
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Contains($"resumed from {oldest.Path}", r.Out);
        AssertSameLosses(Reference.Value, run);
        Assert.Equal(Hash(Path.Combine(Reference.Value, "checkpoints", "step-000000012", "model.safetensors")),
                     Hash(Path.Combine(run, "checkpoints", "step-000000012", "model.safetensors")));
        Assert.DoesNotContain(Directory.GetDirectories(store.Directory), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void Train_ExistingCheckpointsWithoutResume_Refused()
    {
        var r = Run(TrainArgs(Reference.Value));
        Assert.Equal(2, r.Code);
        Assert.Contains("--resume auto", r.Err);
    }

    [Fact]
    public void Resume_DamagedNewestCheckpoint_ReportedAndPreviousUsed()
    {
        string run = NewRunDir("damaged");
        var killed = Run(TrainArgs(run), new Dictionary<string, string> { ["KILN_FAULT"] = "kill@step=7" });
        Assert.Equal(137, killed.Code);
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"));
        string newest = store.List()[0].Path;
        Assert.EndsWith("step-000000006", newest);
        string model = Path.Combine(newest, "model.safetensors");
        var bytes = File.ReadAllBytes(model);
        bytes[^5] ^= 0x40; // a bit flip in tensor data
        File.WriteAllBytes(model, bytes);

        var verify = Run(["verify", run]);
        Assert.Equal(6, verify.Code);
        Assert.Contains("DAMAGED", verify.Out);
        Assert.Contains("ok      ", verify.Out);

        var explicitResume = Run(TrainArgs(run, "--resume", newest));
        Assert.Equal(6, explicitResume.Code);
        Assert.Contains("damaged", explicitResume.Err);
        Assert.Contains("step-000000003", explicitResume.Err); // the previous one is offered

        var auto = Run(TrainArgs(run, "--resume", "auto"));
        Assert.True(auto.Code == 0, auto.Err + auto.Out);
        Assert.Contains("skipping damaged checkpoint", auto.Err);
        Assert.Contains("step-000000003", auto.Out);
        AssertSameLosses(Reference.Value, run);
    }

    [Fact]
    public void Resume_EveryCheckpointDamaged_RefusesToStartFromScratch()
    {
        string run = NewRunDir("alldamaged");
        var killed = Run(TrainArgs(run), new Dictionary<string, string> { ["KILN_FAULT"] = "kill@step=4" });
        Assert.Equal(137, killed.Code);
        foreach (var (path, _) in new CheckpointStore(Path.Combine(run, "checkpoints")).List())
            File.Delete(Path.Combine(path, "optimizer.safetensors"));
        var r = Run(TrainArgs(run, "--resume", "auto"));
        Assert.Equal(6, r.Code);
        Assert.Contains("refusing to start from scratch", r.Err);
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Signal_FinishesStepCheckpointsAndExitsResumable(string signal)
    {
        var ct = TestContext.Current.CancellationToken;
        string run = NewRunDir("sigint");
        using var p = Start(TrainArgs(run, "--set", "training.epochs=40"));
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        string steps = Path.Combine(run, "steps.jsonl");
        var clock = Stopwatch.StartNew();
        while ((!File.Exists(steps) || File.ReadAllLines(steps).Length < 4) && clock.ElapsedMilliseconds < 30_000 && !p.HasExited) await Task.Delay(20, ct);
        Assert.False(p.HasExited, "exited before the signal");
        using (var kill = Process.Start("kill", ["-" + signal, p.Id.ToString()])) await kill.WaitForExitAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(30_000);
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); Assert.Fail("no exit after SIGINT"); }
        string output = await stdout + await stderr;
        Assert.True(p.ExitCode == 75, output);
        long last = Losses(run).Keys.Max();
        var latest = new CheckpointStore(Path.Combine(run, "checkpoints")).Latest!;
        Assert.EndsWith($"step-{last:D9}", latest);
        Assert.True(CheckpointStore.Verify(latest).IsValid);
        Assert.Contains("--resume", output);
    }

    [Fact]
    public void IterSize_AccumulatesMicroBatchesIntoOneStep()
    {
        string run = NewRunDir("iter2");
        var r = Run(TrainArgs(run, "--set", "optimizer.iter_size=2", "--set", "data.val=null"));
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Contains("3 steps per epoch of 16×2 images", r.Out);
        Assert.Equal(6, Losses(run).Count);
    }

    [Fact]
    public void GradClip_BoundsTheUpdate()
    {
        string run = NewRunDir("clip");
        var r = Run(TrainArgs(run, "--set", "optimizer.grad_clip=1e-6", "--set", "optimizer.weight_decay=0", "--set", "data.val=null", "--set", "training.keep_checkpoints=10"));
        Assert.True(r.Code == 0, r.Err + r.Out);
        var early = Kiln.Serialization.Safetensors.Load(Path.Combine(run, "checkpoints", "step-000000003", "model.safetensors"));
        var late = Kiln.Serialization.Safetensors.Load(Path.Combine(run, "checkpoints", "step-000000012", "model.safetensors"));
        double maxChange = 0;
        foreach (var (name, t) in early.Where(e => !e.Key.Contains("running") && !e.Key.Contains("num_batches")))
        {
            var a = t.ToArray<float>();
            var b = late[name].ToArray<float>();
            for (int i = 0; i < a.Length; i++) maxChange = Math.Max(maxChange, Math.Abs(a[i] - b[i]));
        }
        foreach (var t in early.Values.Concat(late.Values)) t.Dispose();
        // 9 steps, lr ≤ 0.1 (bias lr_mult 2), ‖g‖ ≤ 1e-6, momentum 0.9 (velocity ≤ 10 ‖g‖): |Δw| ≤ 9 · 0.1 · 1e-5.
        Assert.True(maxChange < 1e-5, $"largest weight change {maxChange}");
        Assert.True(maxChange > 0, "the clipped updates still move the weights");
    }

    [Theory]
    [InlineData("stop", 5)]
    [InlineData("skip", 0)]
    public void NonFiniteLoss_ConfiguredAction(string action, int expectedCode)
    {
        string run = NewRunDir("nan-" + action);
        var r = Run(TrainArgs(run, "--set", $"training.on_nan={action}", "--set", "training.epochs=1", "--set", "data.val=null"),
            new Dictionary<string, string> { ["KILN_FAULT"] = "nan@step=5" });
        Assert.True(r.Code == expectedCode, r.Err + r.Out);
        if (action == "stop")
        {
            Assert.Contains("non-finite values at step 5", r.Out);
            Assert.Contains("no checkpoint written", r.Out);
            Assert.DoesNotContain(new CheckpointStore(Path.Combine(run, "checkpoints")).List(), c => c.Step >= 5);
        }
        else
        {
            Assert.Contains("skipped step 5", r.Out);
            Assert.Contains("1 skipped", r.Out);
        }
    }

    [Fact]
    public void Preflight_NotEnoughDiskForCheckpoints_StopsBeforeTraining()
    {
        string run = NewRunDir("disk");
        var r = Run(TrainArgs(run, "--set", "training.keep_checkpoints=2000000000"));
        Assert.Equal(6, r.Code);
        Assert.Contains("not enough disk space", r.Out);
        Assert.False(File.Exists(Path.Combine(run, "steps.jsonl")) && File.ReadAllText(Path.Combine(run, "steps.jsonl")).Length > 0);
    }

    [Fact]
    public void Preflight_UnwritablePlaces_StopBeforeTrainingNamingThePath()
    {
        // CK-4. Tests run as root here, where chmod 555 does not stop a write: /proc refuses new entries for
        // anyone, and a file where the checkpoints folder should be cannot become a folder.
        var proc = Run(TrainArgs("/proc/kiln-no-such-run"));
        Assert.Equal(6, proc.Code);
        Assert.Contains("cannot create the run directory '/proc/kiln-no-such-run' (training.run_dir)", proc.Err);

        string run = NewRunDir("blocked");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "checkpoints"), "not a folder");
        var blocked = Run(TrainArgs(run));
        Assert.Equal(6, blocked.Code);
        Assert.Contains($"cannot write checkpoints into '{Path.Combine(run, "checkpoints")}'", blocked.Out);
        Assert.Equal("not a folder", File.ReadAllText(Path.Combine(run, "checkpoints")));   // nothing of the user's is touched
    }

    [Fact]
    public void Train_ConfigError_ExitCode2WithKeyPath()
    {
        var r = Run(TrainArgs(NewRunDir("cfg"), "--set", "optimizer.momentun=0.9"));
        Assert.Equal(2, r.Code);
        Assert.Contains("momentum", r.Err);
    }

    [Fact]
    public void Train_EmptyShardPattern_DataErrorNamingThePattern()
    {
        var r = Run(TrainArgs(NewRunDir("nodata"), "--set", $"data.train={Path.Combine(TrainerHarness.Data, "nothing-*.tar")}"));
        Assert.Equal(3, r.Code);
        Assert.Contains("nothing-*.tar", r.Out + r.Err);
    }
}
