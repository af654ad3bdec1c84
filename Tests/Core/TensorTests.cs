using Kiln.Backends.Cpu;

namespace Kiln.Tests.Core;

[Collection(MemoryCollection.Name)]
public sealed class TensorTests
{
    [Fact]
    public void Scope_DisposesWhatWasCreatedInside_AndKeepsWhatMovedOut()
    {
        Tensor inner, kept;
        using (TensorScope.Begin())
        {
            inner = Tensor.Zeros([4, 4]);
            kept = Tensor.Ones([2]).MoveOutOfScope();
        }
        Assert.True(inner.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal([1f, 1f], kept.ToArray<float>());
        kept.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => inner.ToArray<float>());
        Assert.Contains("(4, 4)", e.Message);
    }

    [Fact]
    public void Scope_NestedKeep_MovesToOuterScope()
    {
        Tensor t;
        using (var outer = TensorScope.Begin())
        {
            using (var inner = TensorScope.Begin())
            {
                t = inner.Keep(Tensor.Zeros([3]));
            }
            Assert.False(t.IsDisposed);
        }
        Assert.True(t.IsDisposed);
    }

    [Fact]
    public void Views_ShareStorage_AndKeepItAlive()
    {
        long before = CpuAllocator.LiveBytes;
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var v = x.Reshape(3, 2);
        x.Dispose();
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, v.ToArray<float>());
        Assert.Equal([3, 2], v.Shape.ToArray());
        v.Dispose();
        Assert.Equal(before, CpuAllocator.LiveBytes);
    }

    [Fact]
    public void Reshape_BadShape_NamesBothShapes()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => x.Reshape(4, 2));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 2)", e.Message);
    }

    [Fact]
    public void To_ConvertsDtype_AndFromArrayChecksLength()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new[] { 1.5, -2.25 }, [2]);
        Assert.Equal([1.5f, -2.25f], x.To(DType.Float32).ToArray<float>());
        Assert.Equal(2.0, Tensor.FromArray(new[] { 2f }, []).Item());
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[5], [2, 3]));
    }

    [Fact]
    public void Device_ParsesAndPrints()
    {
        Assert.Equal(Device.Cpu, Device.Parse("cpu"));
        Assert.Equal(Device.Cuda(1), Device.Parse("cuda:1"));
        Assert.Equal("cuda:0", Device.Parse("cuda").ToString());
        Assert.Throws<ArgumentException>(() => Device.Parse("tpu"));
    }

    [Fact]
    public void Allocator_ReusesFreedBlocks()
    {
        var a = Tensor.Zeros([1000, 1000]);
        a.Dispose();
        long reserved = CpuAllocator.ReservedBytes;
        var b = Tensor.Zeros([1000, 1000]);
        Assert.Equal(reserved, CpuAllocator.ReservedBytes);
        b.Dispose();
    }
}
