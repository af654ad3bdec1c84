namespace Kiln.Tests.Core.Ops;

/// <summary>
/// The pooling kernels split large inputs into chunks of planes run in parallel; small inputs run as
/// one chunk. A large batch must give exactly what its images give one at a time.
/// </summary>
public sealed class PoolChunkingTests
{
    public static TheoryData<string> Pools => new("max", "avg", "global_avg");

    private static Tensor Pool(string which, Tensor x) => which switch
    {
        "max" => Op.MaxPool2d(x, 3, 2, 1, ceilMode: true),
        "avg" => Op.AvgPool2d(x, 3, 2, 1, ceilMode: true, countIncludePad: false),
        _ => Op.GlobalAvgPool2d(x),
    };

    [Theory]
    [MemberData(nameof(Pools))]
    public void Pool_LargeBatch_MatchesImageByImage(string which)
    {
        const int n = 6, c = 16, h = 33, w = 35; // 110,880 elements: several chunks; one image is one chunk
        var x = Enumerable.Range(0, n * c * h * w).Select(i => (float)Math.Sin(i * 0.7311)).ToArray();
        var (y, dx) = ForwardBackward(which, x, [n, c, h, w], 0);
        int inPer = c * h * w, outPer = y.Length / n;
        for (int i = 0; i < n; i++)
        {
            var (yi, dxi) = ForwardBackward(which, x.AsSpan(i * inPer, inPer).ToArray(), [1, c, h, w], i * outPer);
            Assert.Equal(y.AsSpan(i * outPer, outPer).ToArray(), yi);
            Assert.Equal(dx.AsSpan(i * inPer, inPer).ToArray(), dxi);
        }
    }

    /// <summary>Output and input gradient for dy[k] = cos(0.37 (k + firstOutput)), so image i of a batch gets the same dy as alone.</summary>
    private static (float[] Y, float[] Dx) ForwardBackward(string which, float[] data, int[] shape, int firstOutput)
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(data, shape);
        x.RequiresGrad = true;
        var y = Pool(which, x);
        var dy = Enumerable.Range(firstOutput, (int)y.NumElements).Select(k => (float)Math.Cos(0.37 * k)).ToArray();
        y.Backward(Tensor.FromArray(dy, y.Shape));
        var dx = x.Grad!.ToArray<float>();
        x.Grad.Dispose();
        return (y.ToArray<float>(), dx);
    }
}
