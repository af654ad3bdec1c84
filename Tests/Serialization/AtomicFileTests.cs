using Kiln.Serialization;

namespace Kiln.Tests.Serialization;

/// <summary>Fault scenario CK-2: a failed write leaves the previous file and no temporary file.</summary>
public sealed class AtomicFileTests
{
    [Fact]
    public void Save_FailingMidway_LeavesPreviousFileAndNoTempFile()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "model.safetensors");
            using (var w = Tensor.Full([16], 1))
                Safetensors.Save(path, [("w", w)]);
            var before = File.ReadAllBytes(path);

            using var a = Tensor.Full([1000], 2);
            var disposed = Tensor.Full([1000], 3);
            disposed.Dispose();
            // "z" sorts last: the header and "a" are written before the disposed storage is reached.
            Assert.Throws<ObjectDisposedException>(() => Safetensors.Save(path, [("a", a), ("z", disposed)]));

            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(["model.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Write_StreamThrowingAfterSomeBytes_LeavesPreviousFile()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "state.bin");
            File.WriteAllText(path, "old");
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
            {
                s.Write(new byte[100_000]);
                throw new IOException("disk full (injected)");
            }));
            Assert.Equal("disk full (injected)", e.Message);
            Assert.Equal("old", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Write_Succeeding_ReplacesFile_AndLeavesOnlyIt()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "state.bin");
            File.WriteAllText(path, "old");
            AtomicFile.Write(path, s => s.Write("new"u8));
            AtomicFile.Write(Path.Combine(dir, "fresh.bin"), s => s.Write("x"u8));
            Assert.Equal("new", File.ReadAllText(path));
            Assert.Equal(["fresh.bin", "state.bin"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
            Assert.True(AtomicFile.IsTemporaryName(".state.bin.123.abc.tmp"));
            Assert.False(AtomicFile.IsTemporaryName("state.bin"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
