using System.Text;
using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class ShardReaderTests
{
    private static List<RawSample> ReadAll(string path, int numClasses = 5, long cap = 64L << 20)
    {
        var list = new ShardReader(path, numClasses, cap).ReadSamples().ToList();
        foreach (var s in list) s.Release();
        return list;
    }

    [Fact]
    public void ReadSamples_WrittenShard_RoundTripsKeysLabelsBytes()
    {
        using var dir = new TempDir();
        var jpeg = DataFixtures.LabelledJpeg(3);
        using (var w = new ShardWriter(dir.File("a.tar")))
        {
            w.WriteSample("n01_1", jpeg, "jpg", 3);
            w.WriteSample("sub/n01_2", jpeg, "JPEG", 0);
            w.Complete();
        }
        var samples = new ShardReader(dir.File("a.tar"), 5).ReadSamples().ToList();
        Assert.Equal(["n01_1", "sub/n01_2"], samples.Select(s => s.Key));
        Assert.Equal([3, 0], samples.Select(s => s.Label));
        Assert.All(samples, s => Assert.Null(s.Fault));
        Assert.True(samples[0].ImageSpan.SequenceEqual(jpeg));
        foreach (var s in samples) s.Release();
    }

    [Fact]
    public void ShardWriter_NotCompleted_LeavesNoFile()
    {
        using var dir = new TempDir();
        using (var w = new ShardWriter(dir.File("a.tar")))
            w.WriteSample("k", [1, 2, 3], "jpg", 0);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void ReadSamples_StructuralFaults_EachBadWithReason()
    {
        using var dir = new TempDir();
        var jpeg = DataFixtures.LabelledJpeg(1);
        using (var w = new ShardWriter(dir.File("a.tar")))
        {
            w.WriteSample("good", jpeg, "jpg", 1);
            w.WriteRaw("nolabel.jpg", jpeg);
            w.WriteRaw("noimage.cls", "2"u8.ToArray());
            w.WriteMembers("badlabel", [("jpg", jpeg), ("cls", "two"u8.ToArray())]);
            w.WriteMembers("range", [("jpg", jpeg), ("cls", "7"u8.ToArray())]);
            w.WriteMembers("negative", [("jpg", jpeg), ("cls", "-1"u8.ToArray())]);
            w.WriteRaw("dup.jpg", jpeg); w.WriteRaw("dup.cls", "1"u8.ToArray()); w.WriteRaw("dup.jpg", jpeg);
            w.WriteRaw("other.jpg", jpeg); w.WriteRaw("other.cls", "1"u8.ToArray());
            w.WriteRaw("good.jpg", jpeg); w.WriteRaw("good.cls", "1"u8.ToArray()); // key seen earlier in the shard
            w.WriteMembers("big", [("jpg", new byte[5000]), ("cls", "1"u8.ToArray())]);
            w.WriteMembers("spaces", [("jpg", jpeg), ("cls", " 4\n"u8.ToArray())]);
            w.Complete();
        }
        var samples = ReadAll(dir.File("a.tar"), cap: 4096);
        var faults = samples.ToDictionary(s => s.Key + "#" + samples.IndexOf(s), s => s.Fault);
        Assert.Equal(
        [
            null, BadSampleReason.MissingLabel, BadSampleReason.MissingImage, BadSampleReason.UnreadableLabel,
            BadSampleReason.LabelOutOfRange, BadSampleReason.LabelOutOfRange, BadSampleReason.DuplicateKey, null,
            BadSampleReason.DuplicateKey, BadSampleReason.MemberTooLarge, null,
        ], samples.Select(s => s.Fault));
        Assert.Equal(4, samples[^1].Label);
    }

    [Fact]
    public void ReadSamples_TruncatedAtEveryRegion_KeepsSamplesBeforeCutAndReportsShard()
    {
        using var dir = new TempDir();
        var keys = DataFixtures.WriteShards(dir.Path, [6]);
        var bytes = File.ReadAllBytes(dir.File("train-000000.tar"));
        var rng = new Random(3);
        for (int trial = 0; trial < 12; trial++)
        {
            int cut = trial == 0 ? bytes.Length - 1024 : trial == 1 ? 512 * 3 : rng.Next(1, bytes.Length - 1024);
            string path = dir.File($"cut{trial}.tar");
            File.WriteAllBytes(path, bytes.AsSpan(0, cut).ToArray());
            var samples = ReadAll(path);
            var good = samples.Where(s => s.Fault is null).Select(s => s.Key).ToList();
            Assert.Equal(keys.Take(good.Count), good);
            Assert.Equal(BadSampleReason.TruncatedShard, samples[^1].Fault);
            Assert.Single(samples, s => s.Fault is not null);
            Assert.Contains("byte", samples[^1].FaultDetail);
        }
    }

    [Fact]
    public void ReadSamples_GarbageHeaderMidShard_SkipsRestOfShard()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [6]);
        var bytes = File.ReadAllBytes(dir.File("train-000000.tar"));
        // Find the third sample's header (key s0_0002) and corrupt its checksum and size fields.
        int header = Encoding.ASCII.GetString(bytes).IndexOf("s0_0002.jpg", StringComparison.Ordinal);
        foreach (var (offset, garbage) in new[] { (148, "zzzzzz"), (124, "77777777777"), (124, "-1234567890") })
        {
            var copy = (byte[])bytes.Clone();
            Encoding.ASCII.GetBytes(garbage).CopyTo(copy, header + offset);
            File.WriteAllBytes(dir.File("bad.tar"), copy);
            var samples = ReadAll(dir.File("bad.tar"));
            Assert.Equal(["s0_0000", "s0_0001"], samples.Where(s => s.Fault is null).Select(s => s.Key));
            Assert.Equal(BadSampleReason.TruncatedShard, samples[^1].Fault);
        }
    }

    [Fact]
    public void SplitKey_UsesFirstDotOfFileName()
    {
        ShardReader.SplitKey("dir.v2/n01_1.cls.txt", out var key, out var ext);
        Assert.Equal("dir.v2/n01_1", key);
        Assert.Equal("cls.txt", ext);
    }
}
