using Kiln.Cli.Training;
using Kiln.Training;

namespace Kiln.Tests.Training;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kiln-ckpt-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static CheckpointFile Bytes(string name, int n, byte value = 7) => new(name, s => s.Write(Enumerable.Repeat(value, n).ToArray()));

    private string Save(CheckpointStore store, long step) =>
        store.Save(step, [Bytes("model.safetensors", 100 + (int)step), Bytes("optimizer.safetensors", 10)], new CheckpointState { Step = step, Config = "a: 1\n" });

    [Fact]
    public void Save_CommitsVerifiableDirectoryAndLatestPointer()
    {
        var store = new CheckpointStore(_dir);
        string dir = Save(store, 5);
        Assert.Equal(dir, store.Latest);
        var info = CheckpointStore.Verify(dir);
        Assert.True(info.IsValid, info.Problem);
        Assert.Equal(5, info.State!.Step);
        Assert.Equal(2, info.State.Files.Count);
        Assert.DoesNotContain(Directory.GetDirectories(_dir), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void Save_DurabilityOrder_FilesFlushedThenDirectoryThenRenameThenPointerThenRetention()
    {
        var store = new CheckpointStore(_dir);
        Save(store, 1);
        var ops = new List<string>();
        store.OnOperation = ops.Add;
        Save(store, 2);
        store.Retain(1);
        Assert.Equal(
        [
            "flush model.safetensors", "flush optimizer.safetensors", "flush state.json", "fsync checkpoint directory",
            "rename", "fsync parent directory", "pointer latest", "delete step-000000001",
        ], ops);
    }

    [Fact]
    public void Save_WriterThrows_NothingAtFinalNameAndTemporaryDeleted()
    {
        var store = new CheckpointStore(_dir);
        Save(store, 1);
        var failing = new CheckpointFile("model.safetensors", s => { s.Write(new byte[1000]); throw new IOException("device to host copy failed"); });
        var e = Assert.Throws<IOException>(() => store.Save(2, [failing], new CheckpointState { Step = 2 }));
        Assert.Contains("device to host", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, CheckpointStore.NameFor(2))));
        Assert.Single(Directory.GetDirectories(_dir));
        Assert.EndsWith(CheckpointStore.NameFor(1), store.Latest);
    }

    [Fact]
    public void Save_DiskFullStream_PreviousCheckpointUntouched()
    {
        var store = new CheckpointStore(_dir);
        string first = Save(store, 1);
        const int ENOSPC = 28;
        store.WrapStream = s => new ThrowAfterStream(s, 50, new IOException("No space left on device", ENOSPC));
        Assert.Throws<IOException>(() => Save(store, 2));
        Assert.True(CheckpointStore.Verify(first).IsValid);
        Assert.Single(store.List());
    }

    [Fact]
    public void Save_FailingAtAnyOf200RandomByteOffsets_LeavesThePreviousCheckpointAndPointer()
    {
        var store = new CheckpointStore(_dir);
        string first = Save(store, 1);
        var random = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            long at = random.Next(0, 103 + 10); // model.safetensors is 103 bytes at step 2, then optimizer.safetensors
            store.WrapStream = s => new ThrowAfterStream(s, at, new IOException($"injected failure at byte {at}"));
            Assert.Throws<IOException>(() => Save(store, 2));
            Assert.Equal(first, store.Latest);
            Assert.Equal([1L], store.List().Select(c => c.Step));
            Assert.True(CheckpointStore.Verify(first).IsValid);
            Assert.DoesNotContain(Directory.GetFileSystemEntries(_dir), p => Path.GetFileName(p).StartsWith('.'));
        }
    }

    [Fact]
    public void Verify_TruncatedOrFlippedOrMissingFile_NamesTheFile()
    {
        var store = new CheckpointStore(_dir);
        string dir = Save(store, 3);
        string model = Path.Combine(dir, "model.safetensors");
        var flipped = File.ReadAllBytes(model);
        flipped[17] ^= 1;
        File.WriteAllBytes(model, flipped);
        Assert.Contains("damaged", CheckpointStore.Verify(dir).Problem);
        File.WriteAllBytes(model, File.ReadAllBytes(model)[..50]);
        var info = CheckpointStore.Verify(dir);
        Assert.False(info.IsValid);
        Assert.Contains("model.safetensors", info.Problem);
        File.Delete(model);
        Assert.Contains("missing", CheckpointStore.Verify(dir).Problem);
        File.WriteAllText(Path.Combine(dir, CheckpointStore.StateFile), "{ not json");
        Assert.Contains("not valid JSON", CheckpointStore.Verify(dir).Problem);
    }

    [Fact]
    public void Retain_KeepsLastKAndBest_ToleratesVanishedCheckpoints()
    {
        var store = new CheckpointStore(_dir);
        string best = Save(store, 1);
        store.MarkBest(best);
        for (long s = 2; s <= 6; s++) Save(store, s);
        Directory.Delete(Path.Combine(_dir, CheckpointStore.NameFor(3)), recursive: true); // removed behind the trainer's back
        var problems = new List<string>();
        store.Retain(2, problems.Add);
        var left = store.List().Select(c => c.Step).Order().ToArray();
        Assert.Equal([1L, 5, 6], left);
        Assert.Empty(problems);
    }

    [Fact]
    public void CleanTemporaries_RemovesLeftoversOfAKilledSave()
    {
        var store = new CheckpointStore(_dir);
        Save(store, 1);
        Directory.CreateDirectory(Path.Combine(_dir, ".tmp-step-000000002.123.abc"));
        File.WriteAllText(Path.Combine(_dir, ".latest.123.abc.tmp"), "x");
        Assert.Equal(2, store.CleanTemporaries());
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_dir), p => Path.GetFileName(p).StartsWith('.'));
    }

    [Fact]
    public void ConfigDiff_ListsChangedKeysWithPaths_AndMarksCadenceHarmless()
    {
        string a = "optimizer:\n  lr: 0.1\n  param_groups:\n    -\n      match: \"*.bias\"\n      lr_mult: 2\nlogging:\n  interval: 50\n";
        string b = "optimizer:\n  lr: 0.01\n  param_groups:\n    -\n      match: \"*.bias\"\n      lr_mult: 1\nlogging:\n  interval: 10\n";
        var d = ConfigDiff.Compare(a, b);
        Assert.Equal(["logging.interval", "optimizer.lr", "optimizer.param_groups.0.lr_mult"], d.Select(x => x.Key));
        Assert.True(ConfigDiff.IsHarmless("logging.interval"));
        Assert.False(ConfigDiff.IsHarmless("optimizer.lr"));
    }

    private sealed class ThrowAfterStream(Stream inner, long limit, Exception error, long[]? counter = null) : Stream
    {
        private readonly long[] _written = counter ?? new long[1];
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            long room = limit - _written[0];
            if (buffer.Length > room)
            {
                inner.Write(buffer[..(int)Math.Max(0, room)]); // a partial write, then the failure
                _written[0] = limit;
                throw error;
            }
            _written[0] += buffer.Length;
            inner.Write(buffer);
        }
    }
}
