using System.Runtime.CompilerServices;

namespace Kiln.Core;

/// <summary>
/// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
/// counter-based generator of cuRAND and PyTorch. A (key, counter) pair maps to four 32-bit words
/// with no state, so element i of a draw can be computed on any thread, or on the GPU, and comes
/// out the same. See Note [Random streams] in <see cref="RandomGenerator"/>.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four words for counter (c0..c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Word <paramref name="index"/> of a stream: counter = (offset + index / 4, stream), lane index % 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Word(ulong seed, ulong stream, ulong offset, long index)
    {
        ulong counter = offset + (ulong)(index >> 2);
        var (a, b, c, d) = Block((uint)counter, (uint)(counter >> 32), (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));
        return (index & 3) switch { 0 => a, 1 => b, 2 => c, _ => d };
    }

    /// <summary>A 32-bit word as a float in [0, 1) with 24 random bits (the same value in float32 and float64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniform(uint word) => (word >> 8) * (1.0f / 16777216.0f);

    /// <summary>A 32-bit word as a float in (0, 1], safe for a logarithm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniformOpenZero(uint word) => ((word >> 8) + 1) * (1.0f / 16777216.0f);
}
