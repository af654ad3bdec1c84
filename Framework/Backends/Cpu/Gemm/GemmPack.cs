using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiln.Backends.Cpu.Gemm;

/// <summary>
/// Packs blocks of op(A) and op(B) into the sliver layout the micro-kernels read (see Note [GEMM blocking]):
/// A sliver s holds rows [s*mr, s*mr+mr) as kc groups of mr values (one column of the sliver each);
/// B sliver s holds columns [s*nr, s*nr+nr) as kc groups of nr values (one row each).
/// Rows or columns past the matrix edge are packed as zeros.
/// Both packings reduce to two moves: a strided copy (A transposed, B as is) and a transposing
/// gather (A as is, B transposed), done in 4x4 SSE blocks.
/// Hot loops here and in the kernels are AggressiveOptimization: under tiered compilation they would
/// otherwise run unoptimised code for the first few hundred milliseconds (measured: packing ~5x slower),
/// which is the whole of a short benchmark or test.
/// </summary>
internal static unsafe class GemmPack
{
    /// <summary>Packs op(A)[i0 : i0+mLen, pc : pc+kc] into <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, float* a, int lda, int i0, int mLen, int pc, int kc, float* dst, int mr)
    {
        for (int s = 0; s < mLen; s += mr)
        {
            int rows = Math.Min(mr, mLen - s);
            float* d = dst + (long)s * kc;
            if (!transA) Transpose(a + (long)(i0 + s) * lda + pc, lda, rows, kc, d, mr); // A(i, p) = a[i*lda + p]
            else Copy(a + (long)pc * lda + i0 + s, lda, rows, kc, d, mr);                // A(i, p) = a[p*lda + i]
        }
    }

    /// <summary>Packs op(B)[pc : pc+kc, j0 : j0+nLen] into <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, float* b, int ldb, int pc, int kc, int j0, int nLen, float* dst, int nr)
    {
        for (int s = 0; s < nLen; s += nr)
        {
            int cols = Math.Min(nr, nLen - s);
            float* d = dst + (long)s * kc;
            if (!transB) Copy(b + (long)pc * ldb + j0 + s, ldb, cols, kc, d, nr);            // B(p, j) = b[p*ldb + j]
            else Transpose(b + (long)(j0 + s) * ldb + pc, ldb, cols, kc, d, nr);             // B(p, j) = b[j*ldb + p]
        }
    }

    /// <summary>dst[p*width + c] = src[p*ld + c] for c &lt; count, zero for count ≤ c &lt; width; p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Copy(float* src, int ld, int count, int kc, float* dst, int width)
    {
        for (int p = 0; p < kc; p++)
        {
            float* s = src + (long)p * ld;
            float* d = dst + (long)p * width;
            int c = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; c + 8 <= count; c += 8) Vector256.Store(Vector256.Load(s + c), d + c);
            for (; c < count; c++) d[c] = s[c];
            for (; c < width; c++) d[c] = 0f;
        }
    }

    /// <summary>dst[p*width + r] = src[r*ld + p] for r &lt; rows, zero for rows ≤ r &lt; width; p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(float* src, int ld, int rows, int kc, float* dst, int width)
    {
        int r = 0;
        if (Sse.IsSupported)
        {
            int kc4 = kc & ~3;
            for (; r + 4 <= rows; r += 4)
            {
                float* s0 = src + (long)r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
                float* d = dst + r;
                int p = 0;
                for (; p < kc4; p += 4)
                {
                    var t0 = Sse.UnpackLow(Sse.LoadVector128(s0 + p), Sse.LoadVector128(s1 + p));   // r0.0 r1.0 r0.1 r1.1
                    var t1 = Sse.UnpackLow(Sse.LoadVector128(s2 + p), Sse.LoadVector128(s3 + p));   // r2.0 r3.0 r2.1 r3.1
                    var t2 = Sse.UnpackHigh(Sse.LoadVector128(s0 + p), Sse.LoadVector128(s1 + p));  // r0.2 r1.2 r0.3 r1.3
                    var t3 = Sse.UnpackHigh(Sse.LoadVector128(s2 + p), Sse.LoadVector128(s3 + p));  // r2.2 r3.2 r2.3 r3.3
                    float* dp = d + (long)p * width;
                    Sse.Store(dp, Sse.MoveLowToHigh(t0, t1));
                    Sse.Store(dp + width, Sse.MoveHighToLow(t1, t0));
                    Sse.Store(dp + 2 * width, Sse.MoveLowToHigh(t2, t3));
                    Sse.Store(dp + 3 * width, Sse.MoveHighToLow(t3, t2));
                }
                for (; p < kc; p++)
                {
                    float* dp = d + (long)p * width;
                    dp[0] = s0[p]; dp[1] = s1[p]; dp[2] = s2[p]; dp[3] = s3[p];
                }
            }
        }
        for (; r < rows; r++)
        {
            float* s = src + (long)r * ld;
            for (int p = 0; p < kc; p++) dst[(long)p * width + r] = s[p];
        }
        for (; r < width; r++)
            for (int p = 0; p < kc; p++) dst[(long)p * width + r] = 0f;
    }
}
