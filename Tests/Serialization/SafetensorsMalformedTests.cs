using System.Text;
using Kiln.Serialization;

namespace Kiln.Tests.Serialization;

/// <summary>Fault scenarios LD-1 … LD-6: each damaged file gets a typed error naming the file, the tensor and the problem.</summary>
public sealed class SafetensorsMalformedTests
{
    private const string Name = "bad.safetensors";

    /// <summary>A file from a header string (padded to 8) and a data buffer.</summary>
    internal static byte[] Build(string header, int dataBytes = 0, ulong? lengthPrefix = null, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(header).ToList();
        while (pad && h.Count % 8 != 0) h.Add((byte)' ');
        var bytes = new List<byte>(BitConverter.GetBytes(lengthPrefix ?? (ulong)h.Count));
        bytes.AddRange(h);
        bytes.AddRange(new byte[dataBytes]);
        return bytes.ToArray();
    }

    private static SafetensorsFormatException Fails(byte[] file)
    {
        var e = Assert.Throws<SafetensorsFormatException>(() =>
        {
            using var f = SafetensorsFile.Read(new MemoryStream(file), Name);
            foreach (var entry in f.Entries) f.Load(entry).Dispose();
        });
        Assert.StartsWith(Name + ": ", e.Message);
        return e;
    }

    private static string T(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{shape}],\"data_offsets\":[{begin},{end}]}}";

    [Fact]
    public void ZeroByteAndShortFiles_AreTooSmall()
    {
        Assert.Contains("0 bytes, too small or truncated: expected at least 8", Fails([]).Message);
        Assert.Contains("5 bytes, too small", Fails([1, 2, 3, 4, 5]).Message);
    }

    [Theory]
    [InlineData(1UL << 63, "header length 9223372036854775808 exceeds the limit of 100000000 bytes")]
    [InlineData(100_000_001UL, "exceeds the limit")]
    [InlineData(4096UL, "header length 4096 exceeds the file size: only 8 bytes follow")]
    [InlineData(1UL, "too small for a JSON object")]
    public void HeaderLength_IsBounded_BeforeAllocating(ulong prefix, string message)
    {
        Assert.Contains(message, Fails(Build("{}", lengthPrefix: prefix)).Message);
    }

    [Fact]
    public void Header_MustBeUtf8()
    {
        var file = Build("{\"a\":1}");
        file[10] = 0xFF;
        Assert.Contains("header is not valid UTF-8", Fails(file).Message);
    }

    [Theory]
    [InlineData("[1]", "must start with '{'")]
    [InlineData(" {}", "must start with '{'")]
    [InlineData("{abc}", "header is not valid JSON")]
    [InlineData("{}x", "header is not valid JSON")]
    [InlineData("{/*c*/}", "header is not valid JSON")]
    [InlineData("{\"a\":", "header is not valid JSON")]
    [InlineData("{\"a\":1}", "expected an object with dtype, shape and data_offsets")]
    [InlineData("{\"\\ud800\":{}}", "header is not valid JSON")]
    public void Header_MustBeOneJsonObject(string header, string message)
    {
        Assert.Contains(message, Fails(Build(header)).Message);
    }

    [Fact]
    public void DeepNesting_IsAnError_NotAStackOverflow()
    {
        Fails(Build("{\"a\":" + new string('[', 100_000)));
        Fails(Build("{\"__metadata__\":" + new string('{', 50_000)));
    }

    [Fact]
    public void DuplicateTensorName_GetsASpecificMessage()
    {
        var e = Fails(Build("{" + T("w", "F32", "1", 0, 4) + "," + T("w", "F32", "1", 4, 8) + "}", 8));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("duplicate key in the header", e.Message);
    }

    [Theory]
    [InlineData("{\"a\\u0000b\":{}}", "control character U+0000")]
    [InlineData("{\"\":{}}", "empty tensor name")]
    public void BadNames_AreRejected(string header, string message)
    {
        Assert.Contains(message, Fails(Build(header)).Message);
    }

    [Theory]
    [InlineData("\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}", "tensor 'w': unknown dtype 'F33'")]
    [InlineData("\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}", "unknown dtype 'f32'")]
    [InlineData("\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}", "dtype must be a string")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", "shape holds a negative value -1")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}", "shape must hold integers")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}", "shape must hold integers")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}", "shape must hold integers")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}", "data_offsets must hold integers in [0, 2^63)")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}", "two integers [begin, end], found 1")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}", "must hold exactly 2 integers")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1]}", "missing 'data_offsets'")]
    [InlineData("\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}", "missing 'dtype'")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", "missing 'shape'")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "duplicate key 'dtype'")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}", "unknown key 'extra'")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}", "more than 2^63 elements (overflow)")]
    [InlineData("\"w\":{\"dtype\":\"F64\",\"shape\":[1152921504606846976],\"data_offsets\":[0,4]}", "overflows 2^63 bytes")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}", "shape (2) × dtype F32 (4 bytes) = 8 bytes, but offsets [0, 4] span 4")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}", "invalid offsets [4, 0]: end is before begin")]
    [InlineData("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "invalid offsets [0, 8]: past the end of the data buffer (4 bytes)")]
    public void TensorRecords_AreValidated(string record, string message)
    {
        var e = Fails(Build("{" + record + "}", dataBytes: 4));
        Assert.Equal("w", e.Tensor);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AbsurdRank_IsRejected()
    {
        string shape = string.Join(",", Enumerable.Repeat("1", 33));
        Assert.Contains("rank exceeds the limit of 32", Fails(Build("{" + T("w", "F32", shape, 0, 4) + "}", 4)).Message);
    }

    [Fact]
    public void OverlappingOffsets_NameBothTensors()
    {
        var e = Fails(Build("{" + T("a", "F32", "2", 0, 8) + "," + T("b", "F32", "2", 4, 12) + "}", 12));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("invalid offsets [4, 12]: overlaps tensor 'a' [0, 8]", e.Message);
    }

    [Fact]
    public void GapBetweenTensors_IsRejected()
    {
        var e = Fails(Build("{" + T("a", "F32", "1", 0, 4) + "," + T("b", "F32", "1", 8, 12) + "}", 12));
        Assert.Contains("tensor 'b': invalid offsets [8, 12]: bytes [4, 8) before it belong to no tensor (gap)", e.Message);
    }

    [Fact]
    public void TrailingBytes_AfterTheLastTensor_AreRejected()
    {
        var e = Fails(Build("{" + T("a", "F32", "1", 0, 4) + "}", 9));
        Assert.Null(e.Tensor);
        Assert.Contains("data section does not cover the file exactly: tensors end at byte 4 of the data buffer, which holds 9 bytes", e.Message);
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"k\":1}}", "__metadata__ value of 'k' must be a string")]
    [InlineData("{\"__metadata__\":[1]}", "__metadata__ must be an object of strings")]
    [InlineData("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", "duplicate key 'k' in __metadata__")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate key in the header")]
    public void Metadata_IsAMapOfStrings(string header, string message)
    {
        Assert.Contains(message, Fails(Build(header)).Message);
    }

    [Fact]
    public void ValidButUnloadable_DTypeAndDimensions_AreNamed()
    {
        var e = Fails(Build("{" + T("u", "U16", "2", 0, 4) + "}", 4));
        Assert.Contains("tensor 'u': dtype U16 has no Kiln equivalent", e.Message);
        e = Fails(Build("{" + T("z", "F32", "0,3000000000", 0, 0) + "}"));
        Assert.Contains("tensor 'z': dimension 1 of shape (0, 3000000000) exceeds Kiln's limit", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0 }, "PyTorch zip checkpoint")]
    [InlineData(new byte[] { 0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8 }, "PyTorch pickle checkpoint")]
    public void PickleCheckpoints_AreRefusedWithAConversionHint(byte[] start, string message)
    {
        var e = Fails([.. start, .. new byte[64]]);
        Assert.Contains(message, e.Message);
        Assert.Contains("safetensors.torch.save_file(torch.load(path, weights_only=True)", e.Message);
    }

    [Fact]
    public void EmptyFileOfTensors_AndNullMetadata_AreValid()
    {
        using var f = SafetensorsFile.Read(new MemoryStream(Build("{\"__metadata__\":null}")), Name);
        Assert.Empty(f.Entries);
        Assert.Empty(f.Metadata);
    }

    [Fact]
    public void FileTruncatedAfterOpening_IsATypedError()
    {
        var bytes = Build("{" + T("a", "F32", "2", 0, 8) + "}", 8);
        var stream = new MemoryStream();
        stream.Write(bytes);
        using var f = SafetensorsFile.Read(stream, Name, leaveOpen: true);
        stream.SetLength(bytes.Length - 3);
        var e = Assert.Throws<SafetensorsFormatException>(() => f.Load("a"));
        Assert.Contains("tensor 'a': file ends early", e.Message);
    }
}
