using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class DataLoaderTests
{
    private static List<(long Index, int[] Labels, string[] Keys, float[] Pixels, LoaderPosition Next)> Collect(IEnumerable<HostBatch> batches)
    {
        var list = new List<(long, int[], string[], float[], LoaderPosition)>();
        foreach (var b in batches)
        {
            using (b)
                list.Add((b.Index, b.Labels[..b.Count], b.Keys[..b.Count], b.Pixels.ToArray(), b.Next));
        }
        return list;
    }

    [Fact]
    public void ReadEpoch_SameSeed_SameBatchesForAnyWorkerCount()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [7, 5, 9]);
        var spec = DataFixtures.Spec(dir.Path, 3);
        var one = Collect(new DataLoader(DataFixtures.SmallOptions(spec, workers: 1)).ReadEpoch(0));
        var three = Collect(new DataLoader(DataFixtures.SmallOptions(spec, workers: 3) with { Prefetch = 5 }).ReadEpoch(0));
        Assert.Equal(5, one.Count); // 21 samples, batch 4, last dropped in training
        Assert.Equal(one.Count, three.Count);
        for (int i = 0; i < one.Count; i++)
        {
            Assert.Equal(one[i].Keys, three[i].Keys);
            Assert.Equal(one[i].Labels, three[i].Labels);
            Assert.Equal(one[i].Pixels, three[i].Pixels);
        }
        var otherSeed = Collect(new DataLoader(DataFixtures.SmallOptions(spec, seed: 8)).ReadEpoch(0));
        Assert.NotEqual(one.SelectMany(b => b.Keys), otherSeed.SelectMany(b => b.Keys));
        var nextEpoch = Collect(new DataLoader(DataFixtures.SmallOptions(spec)).ReadEpoch(1));
        Assert.NotEqual(one.SelectMany(b => b.Keys), nextEpoch.SelectMany(b => b.Keys));
    }

    [Fact]
    public void ReadEpoch_Batches_AreContiguousNchwWithRightLabels()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [6]);
        var loader = new DataLoader(DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 1), batch: 3));
        foreach (var b in loader.ReadEpoch(0))
        {
            using (b)
            {
                Assert.Equal([3, 3, 16, 16], b.Shape);
                Assert.Equal(3 * 3 * 16 * 16, b.Pixels.Length);
                for (int n = 0; n < b.Count; n++)
                {
                    // Keys s0_i carry label i mod 5; the red channel encodes the label (R = 20·label), normalised.
                    int i = int.Parse(b.Keys[n].Split('_')[1]);
                    Assert.Equal(i % 5, b.Labels[n]);
                    float red = b.Data[n * 768 + 8 * 16 + 8] * 0.229f + 0.485f;
                    Assert.InRange(red * 255, 20 * b.Labels[n] - 6, 20 * b.Labels[n] + 6);
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    [InlineData(4, 1)]
    public void ReadEpoch_AcrossRanksAndWorkers_EachSampleExactlyOnce(int world, int workers)
    {
        using var dir = new TempDir();
        var keys = DataFixtures.WriteShards(dir.Path, [5, 3, 8, 1, 4, 6, 2]);
        var spec = DataFixtures.Spec(dir.Path, 7);
        foreach (var mode in new[] { LoaderMode.Train, LoaderMode.Eval })
        {
            var seen = new List<string>();
            for (int rank = 0; rank < world; rank++)
            {
                var options = DataFixtures.SmallOptions(spec, batch: 3, workers: workers) with
                {
                    Mode = mode,
                    Rank = rank,
                    WorldSize = world,
                    DropLast = false,
                };
                seen.AddRange(Collect(new DataLoader(options).ReadEpoch(2)).SelectMany(b => b.Keys));
            }
            Assert.Equal(keys.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void ReadEpoch_Eval_FileOrderShortLastBatch()
    {
        using var dir = new TempDir();
        var keys = DataFixtures.WriteShards(dir.Path, [5, 3, 8]);
        var options = DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 3), batch: 5, workers: 3) with
        {
            Mode = LoaderMode.Eval,
            Transform = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 20, OutputSize = 16, Flip = false },
        };
        var batches = Collect(new DataLoader(options).ReadEpoch(0));
        Assert.Equal([5, 5, 5, 1], batches.Select(b => b.Keys.Length));
        Assert.Equal(keys, batches.SelectMany(b => b.Keys));

        // Rank 1 of 2 gets samples 1, 3, 5, ... in order.
        var rank1 = Collect(new DataLoader(options with { Rank = 1, WorldSize = 2 }).ReadEpoch(0));
        Assert.Equal(keys.Where((_, i) => i % 2 == 1), rank1.SelectMany(b => b.Keys));
    }

    [Fact]
    public void ReadEpoch_TenCrop_TenViewsPerSample()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [3]);
        var options = DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 1), batch: 2) with
        {
            Mode = LoaderMode.Eval,
            Transform = new TransformOptions { Mode = CropMode.TenCrop, Resize = 24, OutputSize = 16, Flip = false },
        };
        var batches = new DataLoader(options).ReadEpoch(0).ToList();
        Assert.Equal([20, 3, 16, 16], batches[0].Shape);
        Assert.Equal([10, 3, 16, 16], batches[1].Shape);
        // View 5 is view 0 mirrored.
        var p = batches[0].Data;
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                Assert.Equal(p[y * 16 + x], p[5 * 768 + y * 16 + 15 - x], 5);
    }

    [Fact]
    public void ReadFrom_ResumeAtAnyBatch_YieldsTheSameBatches()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [6, 7, 4]);
        // One corrupt sample in the stream, so the cursor must count bad samples too.
        using (var w = new ShardWriter(dir.File("train-000003.tar")))
        {
            w.WriteSample("bad", [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3], "jpg", 1);
            w.WriteSample("ok", DataFixtures.LabelledJpeg(2), "jpg", 2);
            w.Complete();
        }
        var options = DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 4), batch: 3) with { MaxBadFraction = 0.5 };
        var full = Collect(new DataLoader(options).ReadEpoch(3));
        Assert.Equal(6, full.Count);
        for (int k = 0; k < full.Count; k++)
        {
            var start = k == 0 ? LoaderPosition.Start(3) : full[k - 1].Next;
            var resumed = Collect(new DataLoader(options with { Workers = 1 + k % 2 }).ReadFrom(start));
            Assert.Equal(full.Count - k, resumed.Count);
            for (int i = 0; i < resumed.Count; i++)
            {
                Assert.Equal(full[k + i].Index, resumed[i].Index);
                Assert.Equal(full[k + i].Keys, resumed[i].Keys);
                Assert.Equal(full[k + i].Pixels, resumed[i].Pixels);
                Assert.Equal(full[k + i].Next, resumed[i].Next);
            }
        }
    }

    [Fact]
    public void ReadEpoch_AbandonedMidway_StopsCleanly()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [20, 20]);
        var loader = new DataLoader(DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 2), batch: 2) with { Prefetch = 3 });
        var first = loader.ReadEpoch(0).First();
        Assert.Equal(2, first.Count);
        Assert.Equal(2, Collect(loader.ReadEpoch(0).Take(2)).Count);
    }

    [Fact]
    public void ReadEpoch_BadSamples_SkippedCountedQuarantinedAndReported()
    {
        using var dir = new TempDir();
        var good = DataFixtures.LabelledJpeg(1);
        using (var w = new ShardWriter(dir.File("mixed-000000.tar")))
        {
            for (int i = 0; i < 10; i++) w.WriteSample($"g{i}", good, "jpg", 1);
            w.WriteSample("zero", [], "jpg", 1);
            var big = DataFixtures.Encode(96, 96, (x, y) => ((byte)x, (byte)y, (byte)(x ^ y)));
            w.WriteSample("trunc", big.AsSpan(0, big.Length * 2 / 3), "jpg", 1);
            w.WriteSample("bomb", DataFixtures.WithDeclaredSize(good, 60000, 60000), "jpg", 1);
            w.WriteSample("range", good, "jpg", 9);
            w.WriteRaw("nolabel.jpg", good);
            w.Complete();
        }
        var events = new List<DataEvent>();
        var quarantine = dir.File("run/quarantine.tsv"); // the folder is created at start
        var options = DataFixtures.SmallOptions(dir.File("mixed-000000.tar"), batch: 4) with
        {
            MaxBadFraction = 0.5,
            QuarantinePath = quarantine,
            OnEvent = events.Add,
            DropLast = false,
            ShuffleBuffer = 0,
        };
        var batches = Collect(new DataLoader(options).ReadEpoch(0));
        Assert.Equal(10, batches.Sum(b => b.Keys.Length));
        var bad = events.Where(e => e.Kind == DataEventKind.BadSample).Select(e => (e.Sample!.Key, e.Sample.Reason)).ToList();
        Assert.Equal(
        [
            ("zero", BadSampleReason.CorruptImage), ("trunc", BadSampleReason.TruncatedImage), ("bomb", BadSampleReason.ImageTooLarge),
            ("range", BadSampleReason.LabelOutOfRange), ("nolabel", BadSampleReason.MissingLabel),
        ], bad);
        var summary = events.Single(e => e.Kind == DataEventKind.EpochEnd).Health!;
        Assert.Equal(5, summary.Bad);
        Assert.Equal(15, summary.Seen);
        Assert.Equal(1, summary.Count(BadSampleReason.ImageTooLarge));
        var lines = File.ReadAllLines(quarantine);
        Assert.Equal(5, lines.Length);
        Assert.Contains("mixed-000000.tar\tbomb", lines[2]);
    }

    [Fact]
    public void ReadEpoch_BadFractionOverLimit_StopsWithSummary()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [30]);
        using (var w = new ShardWriter(dir.File("train-000001.tar")))
        {
            w.WriteSample("junk", [1, 2, 3, 4], "jpg", 0);
            w.Complete();
        }
        var spec = DataFixtures.Spec(dir.Path, 2);
        // 1 bad of 31 (3.2%): over the default 0.1% limit ...
        var e = Assert.Throws<DataBudgetExceededException>(() => Collect(new DataLoader(DataFixtures.SmallOptions(spec)).ReadEpoch(0)));
        Assert.Contains("CorruptImage 1", e.Message);
        Assert.Contains("train-000001.tar", e.Message);
        // ... within a 5% limit; and an absolute count limit of 0 stops it too.
        Assert.Equal(7, Collect(new DataLoader(DataFixtures.SmallOptions(spec) with { MaxBadFraction = 0.05 }).ReadEpoch(0)).Count);
        Assert.Throws<DataBudgetExceededException>(() =>
            Collect(new DataLoader(DataFixtures.SmallOptions(spec) with { MaxBadFraction = 0.05, MaxBadCount = 0 }).ReadEpoch(0)));
    }

    [Fact]
    public void ReadEpoch_TruncatedShard_KeepsEarlierSamplesAndContinues()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [8, 8]);
        var path = dir.File("train-000000.tar");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2 + 100).ToArray());
        var events = new List<DataEvent>();
        var options = DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 2)) with { MaxBadFraction = 0.2, OnEvent = events.Add, DropLast = false };
        var keys = Collect(new DataLoader(options).ReadEpoch(0)).SelectMany(b => b.Keys).ToList();
        Assert.Equal(8, keys.Count(k => k.StartsWith("s1_")));
        Assert.InRange(keys.Count(k => k.StartsWith("s0_")), 2, 5);
        Assert.Single(events, e => e.Sample?.Reason == BadSampleReason.TruncatedShard);
    }

    [Fact]
    public void Constructor_EmptyAndMissingInputs_FailAtStartWithPath()
    {
        using var dir = new TempDir();
        Assert.Contains("nothere-000000.tar", Assert.Throws<FileNotFoundException>(() =>
            new DataLoader(DataFixtures.SmallOptions(dir.File("nothere-{000000..000001}.tar")))).Message);
        Assert.Throws<ArgumentException>(() => new DataLoader(DataFixtures.SmallOptions(dir.File("x.tar")) with { BatchSize = 0 }));

        // Shards with no samples at all: the first epoch fails naming the spec.
        using (var w = new ShardWriter(dir.File("empty-000000.tar"))) w.Complete();
        var e = Assert.Throws<InvalidDataException>(() => Collect(new DataLoader(DataFixtures.SmallOptions(dir.File("empty-000000.tar"))).ReadEpoch(0)));
        Assert.Contains("empty-000000.tar", e.Message);

        // Every sample bad.
        using (var w = new ShardWriter(dir.File("allbad-000000.tar")))
        {
            w.WriteSample("a", [1], "jpg", 0);
            w.Complete();
        }
        Assert.Contains("every sample is bad", Assert.Throws<InvalidDataException>(() =>
            Collect(new DataLoader(DataFixtures.SmallOptions(dir.File("allbad-000000.tar")) with { MaxBadFraction = 1 }).ReadEpoch(0))).Message);
    }

    [Fact]
    public void Split_FewerShardsThanRanks_FallsBackToSampleSplit()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [9]);
        var seen = new List<string>();
        for (int rank = 0; rank < 3; rank++)
        {
            var loader = new DataLoader(DataFixtures.SmallOptions(DataFixtures.Spec(dir.Path, 1)) with { WorldSize = 3, Rank = rank, DropLast = false });
            Assert.Equal(RankSplit.BySample, loader.Split);
            var keys = Collect(loader.ReadEpoch(0)).SelectMany(b => b.Keys).ToList();
            Assert.Equal(3, keys.Count);
            seen.AddRange(keys);
        }
        Assert.Equal(9, seen.Distinct().Count());
    }

    [Theory]
    [InlineData(1, false)]   // 0.05%: under the default 0.1% limit
    [InlineData(10, true)]   // 0.5%
    [InlineData(100, true)]  // 5%
    public void ReadEpoch_DefaultBudget_StopsOnlyPastPointOnePercent(int badCount, bool stops)
    {
        using var dir = new TempDir();
        var jpeg = DataFixtures.Encode(8, 8, (x, y) => ((byte)x, (byte)y, 0));
        using (var w = new ShardWriter(dir.File("d-000000.tar")))
        {
            for (int i = 0; i < 2000; i++)
                w.WriteSample($"k{i:D4}", jpeg, "jpg", i % 20 == 0 && i / 20 < badCount ? 5 : 1);
            w.Complete();
        }
        var events = new List<DataEvent>();
        var options = DataFixtures.SmallOptions(dir.File("d-000000.tar"), batch: 100, workers: 2) with
        {
            MinSamplesForBadFraction = 10_000,
            OnEvent = events.Add,
            Transform = new TransformOptions { Mode = CropMode.Full, OutputSize = 8, Flip = false },
        };
        var run = () => new DataLoader(options).ReadEpoch(0).Sum(b => { using (b) return b.Count; });
        if (stops)
        {
            var e = Assert.Throws<DataBudgetExceededException>(() => { run(); });
            Assert.Equal(badCount, e.Health.Bad);
            Assert.Contains($"LabelOutOfRange {badCount}", e.Message);
        }
        else
        {
            Assert.Equal(1999 - 1999 % 100, run());
            Assert.Equal(1, events.Count(e => e.Kind == DataEventKind.BadSample));
            Assert.Equal(1, events.First().Health!.Bad);
        }
    }

    [Fact]
    public void DataBench_SmallShard_ReportsEveryStage()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [12]);
        var r = DataBench.Run(DataFixtures.Spec(dir.Path, 1), 2, new TransformOptions { OutputSize = 16 }, maxImages: 10, batchSize: 4);
        Assert.Equal(10, r.Images);
        Assert.Equal(40, r.MeanWidth);
        Assert.True(r.DecodeAugmentMsPerImage > 0 && r.LoaderImagesPerSecond > 0 && r.OneThreadImagesPerSecond > 0);
        var u8 = DataBench.Run(DataFixtures.Spec(dir.Path, 1), 2, new TransformOptions { OutputSize = 16 }, maxImages: 10, batchSize: 4, format: BatchFormat.UInt8Nhwc);
        Assert.Equal(10, u8.Images);
        Assert.True(u8.DecodeAugmentMsPerImage > 0 && u8.LoaderImagesPerSecond > 0);
        var e = Assert.Throws<ArgumentException>(() => Kiln.Cli.Commands.BenchCommand.Run(
            new Kiln.Cli.Commands.BenchOptions { Target = "data", Shards = DataFixtures.Spec(dir.Path, 1), Format = "int4" }));
        Assert.Contains("--format 'int4'", e.Message);
    }

    [Fact]
    public void Fingerprint_ChangesWithOrderRelevantSettingsAndShardSizes()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [3, 4]);
        var spec = DataFixtures.Spec(dir.Path, 2);
        string a = new DataLoader(DataFixtures.SmallOptions(spec)).Fingerprint();
        Assert.Equal(a, new DataLoader(DataFixtures.SmallOptions(spec) with { Workers = 1 }).Fingerprint());
        Assert.NotEqual(a, new DataLoader(DataFixtures.SmallOptions(spec, seed: 99)).Fingerprint());
        Assert.NotEqual(a, new DataLoader(DataFixtures.SmallOptions(spec, batch: 5)).Fingerprint());
        DataFixtures.WriteShards(dir.Path, [3, 5]);
        Assert.NotEqual(a, new DataLoader(DataFixtures.SmallOptions(spec)).Fingerprint());
    }
}
