namespace Kiln.Data;

/// <summary>The outcome of decoding one sample: success, or why it is bad.</summary>
public readonly record struct DecodeResult(BadSampleReason? Fault, string Detail)
{
    public static DecodeResult Ok => default;
    public bool Success => Fault is null;
    public static DecodeResult Bad(BadSampleReason reason, string detail) => new(reason, detail);
}
