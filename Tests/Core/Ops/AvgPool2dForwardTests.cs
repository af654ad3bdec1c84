namespace Kiln.Tests.Core.Ops;

public sealed class AvgPool2dForwardTests
{
    [Fact]
    public void AvgPool2d_4x4Kernel2Stride2_AveragesEachQuadrant()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Enumerable.Range(1, 16).Select(i => (double)i).ToArray(), [1, 1, 4, 4]);
        Assert.Equal([3.5, 5.5, 11.5, 13.5], Op.AvgPool2d(x, 2, 2).ToArray<double>());
    }

    [Fact]
    public void AvgPool2d_PaddedCorners_CountPaddingOnlyWhenAsked()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Ones([1, 1, 3, 3], DType.Float64);
        var include = Op.AvgPool2d(x, 3, 1, 1).ToArray<double>();
        Expect.Near([4 / 9.0, 6 / 9.0, 4 / 9.0, 6 / 9.0, 1, 6 / 9.0, 4 / 9.0, 6 / 9.0, 4 / 9.0], include);
        var exclude = Op.AvgPool2d(x, 3, 1, 1, countIncludePad: false).ToArray<double>();
        Assert.All(exclude, v => Assert.Equal(1.0, v, 12));
    }

    [Fact]
    public void AvgPool2d_CeilOverhang_BeyondThePaddingIsNotCounted()
    {
        using var scope = TensorScope.Begin();
        // 6x6 ones, k3 s2 p1 ceil: 4x4 output; the last window starts at row 5 and is clipped at
        // H + p = 7, so it spans 2 rows (one real, one padding): divisor 2*2 = 4 and value 1/4.
        var x = Tensor.Ones([1, 1, 6, 6], DType.Float64);
        var y = Op.AvgPool2d(x, 3, 2, 1, ceilMode: true);
        Assert.Equal([1, 1, 4, 4], y.Shape.ToArray());
        var v = y.ToArray<double>();
        Assert.Equal(4 / 9.0, v[0], 12);   // top-left: 2x2 real of 3x3
        Assert.Equal(6 / 9.0, v[1], 12);   // top edge
        Assert.Equal(1.0, v[5], 12);       // interior
        Assert.Equal(2 / 6.0, v[3], 12);   // top-right: 2 real rows of 3, 1 real column of 2
        Assert.Equal(1 / 4.0, v[15], 12);  // bottom-right
        var exclude = Op.AvgPool2d(x, 3, 2, 1, ceilMode: true, countIncludePad: false).ToArray<double>();
        Assert.All(exclude, e => Assert.Equal(1.0, e, 12));
    }

    [Fact]
    public void AvgPool2d_CeilWithoutPadding_DividesByTheRealWindow()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Ones([1, 1, 5, 5], DType.Float64);
        Assert.All(Op.AvgPool2d(x, 2, 2, ceilMode: true).ToArray<double>(), v => Assert.Equal(1.0, v, 12));
    }

    [Fact]
    public void GlobalAvgPool2d_MeansEachPlane()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6, -1, -1, -1, 2, 2, 2 }, [1, 2, 2, 3]);
        var y = Op.GlobalAvgPool2d(x);
        Assert.Equal([1, 2, 1, 1], y.Shape.ToArray());
        Expect.Near([3.5, 0.5], y.ToArray<double>());
    }

    [Fact]
    public void GlobalAvgPool2d_Float32_LargePlane_MatchesFloat64()
    {
        using var scope = TensorScope.Begin();
        var data = Enumerable.Range(0, 4 * 7 * 7 * 8).Select(i => Math.Cos(i * 0.1)).ToArray();
        var x = Tensor.FromArray(data, [8, 4, 7, 7]);
        var y64 = Op.GlobalAvgPool2d(x).ToArray<double>();
        var y32 = Op.GlobalAvgPool2d(x.To(DType.Float32)).To(DType.Float64).ToArray<double>();
        Expect.Near(y64, y32, 1e-6);
    }
}
