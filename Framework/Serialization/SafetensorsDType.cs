namespace Kiln.Serialization;

/// <summary>
/// Element types of the safetensors format, in the order of the reference implementation's
/// <c>Dtype</c> enum (its writer sorts tensors by this order, descending, so that each tensor's data
/// is aligned to its element size). Sub-byte types (F4, F6) are not supported.
/// </summary>
public enum SafetensorsDType
{
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    F8_E8M0,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
}

public static class SafetensorsDTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8 or SafetensorsDType.F8_E5M2
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E8M0 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.C64 or SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown safetensors dtype"),
    };

    /// <summary>The dtype string as it appears in a header ("F32", "BF16", ...).</summary>
    public static string Code(this SafetensorsDType t) => t.ToString();

    /// <summary>Parses a header dtype string exactly (case-sensitive, as the reference reader does).</summary>
    public static bool TryParse(string code, out SafetensorsDType dtype)
    {
        foreach (var t in Enum.GetValues<SafetensorsDType>())
            if (string.Equals(t.ToString(), code, StringComparison.Ordinal))
            {
                dtype = t;
                return true;
            }
        dtype = default;
        return false;
    }

    /// <summary>The Kiln dtype that holds this element type bit for bit, or null if Kiln has none.</summary>
    public static DType? ToKiln(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F32 => DType.Float32,
        SafetensorsDType.F64 => DType.Float64,
        SafetensorsDType.F16 => DType.Float16,
        SafetensorsDType.BF16 => DType.BFloat16,
        SafetensorsDType.I64 => DType.Int64,
        SafetensorsDType.I32 => DType.Int32,
        SafetensorsDType.U8 => DType.UInt8,
        _ => null,
    };

    /// <summary>The safetensors code of a Kiln dtype.</summary>
    public static SafetensorsDType FromKiln(DType t) => t switch
    {
        DType.Float32 => SafetensorsDType.F32,
        DType.Float64 => SafetensorsDType.F64,
        DType.Float16 => SafetensorsDType.F16,
        DType.BFloat16 => SafetensorsDType.BF16,
        DType.Int64 => SafetensorsDType.I64,
        DType.Int32 => SafetensorsDType.I32,
        DType.UInt8 => SafetensorsDType.U8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no safetensors dtype for this Kiln dtype"),
    };

    /// <summary>Whether the type is one of the floating types <c>kiln weights convert</c> can convert between.</summary>
    public static bool IsConvertibleFloat(this SafetensorsDType t) =>
        t is SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F64;
}
