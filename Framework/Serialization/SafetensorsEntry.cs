namespace Kiln.Serialization;

/// <summary>One tensor's header record: name, dtype, shape and its byte range in the data buffer.</summary>
public sealed class SafetensorsEntry
{
    internal SafetensorsEntry(string name, SafetensorsDType dtype, long[] shape, long begin, long end, long numElements)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        Begin = begin;
        End = end;
        NumElements = numElements;
    }

    private readonly long[] _shape;

    public string Name { get; }
    public SafetensorsDType DType { get; }
    public IReadOnlyList<long> Shape => _shape;
    public int Rank => _shape.Length;

    /// <summary>Start of the tensor's bytes, relative to the start of the data buffer (after the header).</summary>
    public long Begin { get; }

    /// <summary>End (exclusive) of the tensor's bytes, relative to the start of the data buffer.</summary>
    public long End { get; }

    public long ByteLength => End - Begin;
    public long NumElements { get; }

    /// <summary>"(64, 3, 7, 7)"; "()" for a scalar.</summary>
    public string ShapeString => "(" + string.Join(", ", _shape) + ")";

    public override string ToString() => $"{Name} {DType} {ShapeString}";
}
