using System.Text;
using Kiln.Backends.Cpu;
using Kiln.Serialization;

namespace Kiln.Tests.Serialization;

public sealed class SafetensorsTests
{
    public static TheoryData<DType, int[]> DTypesAndShapes()
    {
        var data = new TheoryData<DType, int[]>();
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Float16, DType.BFloat16, DType.Int64, DType.Int32, DType.UInt8 })
            foreach (var shape in new[] { Array.Empty<int>(), [0], [3], [2, 0, 3], [2, 3, 4] })
                data.Add(dtype, shape);
        return data;
    }

    /// <summary>A CPU tensor whose bytes are a fixed pseudo-random pattern (valid for every dtype).</summary>
    private static Tensor Patterned(DType dtype, int[] shape, int seed)
    {
        var t = Tensor.Empty(shape, dtype);
        new Random(seed).NextBytes(CpuBackend.Bytes(t));
        return t;
    }

    [Theory]
    [MemberData(nameof(DTypesAndShapes))]
    public void RoundTrip_EveryDTypeAndShape_IsBitExact(DType dtype, int[] shape)
    {
        using var t = Patterned(dtype, shape, 7);
        using var other = Patterned(DType.Int64, [2], 8);
        var bytes = Safetensors.Serialize([("x", t), ("counter", other)]);
        Assert.Equal(0, BitConverter.ToInt64(bytes, 0) % 8); // header padded to 8 bytes
        using var file = SafetensorsFile.Read(new MemoryStream(bytes), "mem");
        var e = file["x"];
        Assert.Equal(SafetensorsDTypeExtensions.FromKiln(dtype), e.DType);
        Assert.Equal(shape.Select(d => (long)d), e.Shape);
        using var back = file.Load("x");
        Assert.Equal(dtype, back.DType);
        Assert.Equal(shape, back.Shape.ToArray());
        Assert.Equal(CpuBackend.Bytes(t).ToArray(), CpuBackend.Bytes(back).ToArray());
    }

    [Fact]
    public void Write_MatchesHandBuiltBytes_OfTheSpec()
    {
        // Built by hand from the format description: u64 LE header length, compact JSON with
        // __metadata__ first, tensors sorted by dtype (I64 before F32) then name, offsets relative to
        // the data buffer, header padded with spaces to a multiple of 8, little-endian data.
        const string json = "{\"__metadata__\":{\"format\":\"pt\"}," +
                            "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}," +
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        var expected = new List<byte> { 144, 0, 0, 0, 0, 0, 0, 0 };
        expected.AddRange(Encoding.ASCII.GetBytes(json + "      "));           // 138 + 6 = 144
        expected.AddRange(new byte[] { 7, 0, 0, 0, 0, 0, 0, 0 });                // a = 7L
        expected.AddRange(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0 }); // b = [1f, -2f]

        using var b = Tensor.FromArray(new[] { 1f, -2f }, [2]);
        using var a = Tensor.FromArray(new[] { 7L }, []);
        var bytes = Safetensors.Serialize([("b", b), ("a", a)], new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(expected.ToArray(), bytes);

        using var file = SafetensorsFile.Read(new MemoryStream(expected.ToArray()), "hand.safetensors");
        Assert.Equal(["a", "b"], file.Entries.Select(e => e.Name));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(144, file.HeaderLength);
        using var lb = file.Load("b");
        using var la = file.Load("a");
        Assert.Equal([1f, -2f], lb.ToArray<float>());
        Assert.Equal([7L], la.ToArray<long>());
    }

    [Fact]
    public void Write_SortsByDTypeSizeThenName_SoEveryTensorIsAligned()
    {
        using var u8 = Tensor.Zeros([3], DType.UInt8);
        using var f32 = Tensor.Zeros([1]);
        using var f64 = Tensor.Zeros([1], DType.Float64);
        var bytes = Safetensors.Serialize([("u", u8), ("z", f32), ("y", f32), ("d", f64)]);
        using var file = SafetensorsFile.Read(new MemoryStream(bytes), "mem");
        Assert.Equal(["d", "y", "z", "u"], file.Entries.Select(e => e.Name));
        Assert.Equal(0, file.DataStart % 8);
        Assert.All(file.Entries, e => Assert.Equal(0, e.Begin % e.DType.Size()));
    }

    [Fact]
    public void Write_EscapesNamesAndMetadata_AsJson()
    {
        using var t = Tensor.Zeros([1]);
        var meta = new Dictionary<string, string> { ["note"] = "quote \" backslash \\ newline \n tab \t é" };
        var bytes = Safetensors.Serialize([("layer\"1\\weight.é", t)], meta);
        using var file = SafetensorsFile.Read(new MemoryStream(bytes), "mem");
        Assert.Equal("layer\"1\\weight.é", file.Entries[0].Name);
        Assert.Equal(meta["note"], file.Metadata["note"]);
        Assert.Contains("\\n tab \\t é", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Write_RejectsDuplicateReservedAndControlNames()
    {
        using var t = Tensor.Zeros([1]);
        Assert.Contains("duplicate", Assert.Throws<ArgumentException>(() => Safetensors.Serialize([("a", t), ("a", t)])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => Safetensors.Serialize([("__metadata__", t)])).Message);
        Assert.Contains("control", Assert.Throws<ArgumentException>(() => Safetensors.Serialize([("a\nb", t)])).Message);
    }

    [Fact]
    public void Write_NonContiguousTensor_IsWrittenInLogicalOrder()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, [2, 3]);
        var xt = x.View([3, 2], [1, 3], 0); // transpose
        var bytes = Safetensors.Serialize([("t", xt)]);
        using var file = SafetensorsFile.Read(new MemoryStream(bytes), "mem");
        using var back = file.Load("t");
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], back.ToArray<float>());
    }

    [Fact]
    public void SaveAndLoad_File_LoadsLazilyAndListsWithoutData()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "w.safetensors");
            using (var w = Tensor.FromArray(new[] { 1.5, 2.5 }, [1, 2]))
                Safetensors.Save(path, [("w", w)], new Dictionary<string, string> { ["epoch"] = "3" });
            using (var file = Safetensors.Open(path))
            {
                Assert.Equal("(1, 2)", file["w"].ShapeString);
                Assert.Equal("3", file.Metadata["epoch"]);
            }
            var all = Safetensors.Load(path);
            Assert.Equal([1.5, 2.5], all["w"].ToArray<double>());
            foreach (var t in all.Values) t.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Convert_FloatsToF32AndBF16_KeepsIntegers()
    {
        var dir = TempDir.Create();
        try
        {
            string a = Path.Combine(dir, "a.safetensors"), b = Path.Combine(dir, "b.safetensors"), c = Path.Combine(dir, "c.safetensors");
            using (var w = Tensor.FromArray(new[] { 1.0, -2.5, 1e-3, 3.14159 }, [4]))
            using (var n = Tensor.FromArray(new[] { 42L }, []))
                Safetensors.Save(a, [("w", w), ("n", n)], new Dictionary<string, string> { ["k"] = "v" });
            Safetensors.Convert(a, b, SafetensorsDType.F32, new Dictionary<string, string> { ["format"] = "pt" });
            using (var file = SafetensorsFile.Open(b))
            {
                Assert.Equal(SafetensorsDType.F32, file["w"].DType);
                Assert.Equal(SafetensorsDType.I64, file["n"].DType);
                Assert.Equal("v", file.Metadata["k"]);
                Assert.Equal("pt", file.Metadata["format"]);
                using var w = file.Load("w");
                Assert.Equal([1f, -2.5f, 1e-3f, 3.14159f], w.ToArray<float>());
            }
            Safetensors.Convert(b, c, SafetensorsDType.BF16);
            using (var file = SafetensorsFile.Open(c))
            {
                var raw = new byte[8];
                file.ReadBytes(file["w"], raw);
                // bfloat16 of 1, -2.5, 0.001 (rounded to nearest even), 3.14159
                Assert.Equal(new ushort[] { 0x3F80, 0xC020, 0x3A83, 0x4049 }, Enumerable.Range(0, 4).Select(i => BitConverter.ToUInt16(raw, 2 * i)));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

internal static class TempDir
{
    public static string Create()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kiln-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
