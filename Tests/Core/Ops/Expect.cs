namespace Kiln.Tests.Core.Ops;

/// <summary>Elementwise comparisons for hand-computed forward values.</summary>
internal static class Expect
{
    public static void Near(double[] expected, double[] actual, double tolerance = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
                Assert.Fail($"element {i}: expected {expected[i]:G17}, got {actual[i]:G17} (tolerance {tolerance:G3})");
    }
}
