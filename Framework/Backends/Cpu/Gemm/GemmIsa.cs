namespace Kiln.Backends.Cpu.Gemm;

/// <summary>Which micro-kernel the float32 GEMM runs.</summary>
public enum GemmIsa
{
    /// <summary>Portable scalar loops (4x4 tiles).</summary>
    Scalar,
    /// <summary>Vector256 with FMA (6x16 tiles, 12 accumulators).</summary>
    Avx2,
    /// <summary>Vector512 with AVX-512F FMA (12x32 tiles, 24 accumulators).</summary>
    Avx512,
}
