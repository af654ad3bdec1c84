namespace Kiln.Tests.Core.Ops;

/// <summary>Tests driven by <see cref="OpCases"/>.</summary>
public sealed class OpTableTests
{
    [Theory]
    [MemberData(nameof(OpCases.Names), MemberType = typeof(OpCases))]
    public void GradCheck_Float64_MatchesFiniteDifferences(string name)
    {
        var errors = OpHarness.GradCheck(OpCases.Get(name));
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(20)));
    }

    [Theory]
    [MemberData(nameof(OpCases.Names), MemberType = typeof(OpCases))]
    public void Float32_AgreesWithFloat64(string name)
    {
        var c = OpCases.Get(name);
        var data = OpHarness.SampleInputs(c);
        var (y64, g64) = OpHarness.Evaluate(c, data, DType.Float64);
        var (y32, g32) = OpHarness.Evaluate(c, data, DType.Float32);
        AssertClose($"{name} output", y64, y32, c.Float32Rtol);
        for (int i = 0; i < g64.Length; i++)
            if (g64[i] is { } expected) AssertClose($"{name} grad of input {i}", expected, g32[i]!, c.Float32Rtol);
    }

    /// <summary>|a - b| ≤ rtol · (|a| + scale) elementwise, with scale the largest |a| (float32 rounding is relative to the data's magnitude).</summary>
    internal static void AssertClose(string what, double[] expected, double[] actual, double rtol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = rtol * (Math.Abs(expected[i]) + scale) + 1e-7;
            if (Math.Abs(expected[i] - actual[i]) > tol)
                Assert.Fail($"{what}: element {i}: float64 {expected[i]:G9}, float32 {actual[i]:G9} (tolerance {tol:G3})");
        }
    }
}
