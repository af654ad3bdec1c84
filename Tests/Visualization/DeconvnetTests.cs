using Kiln.Core.Autograd;
using Kiln.Nn;
using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class DeconvnetTests
{
    [Fact]
    public void Switches_PickTheFirstMaximumOfEachWindow()
    {
        // One 4x4 plane, 2x2/2 windows; the maxima sit at known places, one window has a tie.
        float[] x =
        [
            1, 5, 0, 0,
            2, 3, 7, 7,
            9, 0, 1, 1,
            0, 0, 1, 4,
        ];
        using var t = Tensor.FromArray(x, [1, 1, 4, 4]);
        var s = Deconvnet.Switches(t, Pool2dParams.Square(2, 2, 0, false));
        Assert.Equal([1, 6, 8, 15], s);
    }

    [Fact]
    public void Unpool_PlacesValuesAtTheRecordedSwitches()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(VizFixtures.Random(2 * 3 * 6 * 6, 1), [2, 3, 6, 6]);
        var p = Pool2dParams.Square(3, 2, 1, false);
        var switches = Deconvnet.Switches(x, p);
        var y = Op.MaxPool2d(x, p);
        var r = Tensor.FromArray(VizFixtures.Random((int)y.NumElements, 2), y.Shape);
        var u = Deconvnet.Unpool(r, switches, 6, 6).ToArray<float>();
        var rv = r.ToArray<float>();
        var xv = x.ToArray<float>();
        var yv = y.ToArray<float>();
        var expected = new float[u.Length];
        int pq = y.Size(2) * y.Size(3);
        for (int i = 0; i < rv.Length; i++)
        {
            int plane = i / pq;
            int at = plane * 36 + switches[i];
            Assert.Equal(yv[i], xv[at]); // the switch is where the pooled maximum came from
            expected[at] += rv[i];
        }
        Assert.Equal(expected, u);
    }

    [Fact]
    public void Unpool_EqualsMaxPoolBackward()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(VizFixtures.Random(1 * 2 * 7 * 7, 3), [1, 2, 7, 7]);
        x.RequiresGrad = true;
        var p = Pool2dParams.Square(3, 2, 0, true);
        var y = Op.MaxPool2d(x, p);
        var r = Tensor.FromArray(VizFixtures.Random((int)y.NumElements, 4), y.Shape);
        Op.Sum(Op.Mul(y, r)).Backward();
        var u = Deconvnet.Unpool(r, Deconvnet.Switches(x, p), 7, 7).ToArray<float>();
        var g = x.Grad!.ToArray<float>();
        for (int i = 0; i < u.Length; i++) Assert.Equal(g[i], u[i], 1e-6f);
    }

    [Fact]
    public void TransposedConv_EqualsTheConvolutionsBackwardDataPass()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(VizFixtures.Random(2 * 3 * 9 * 9, 5), [2, 3, 9, 9]);
        x.RequiresGrad = true;
        var w = Tensor.FromArray(VizFixtures.Random(4 * 3 * 3 * 3, 6), [4, 3, 3, 3]);
        var p = new Conv2dParams(2, 1);
        var y = Op.Conv2d(x, w, null, p);
        var r = Tensor.FromArray(VizFixtures.Random((int)y.NumElements, 7), y.Shape);
        Op.Sum(Op.Mul(y, r)).Backward();
        var d = Deconvnet.TransposedConv(r, w, p, 9, 9);
        Assert.Equal([2, 3, 9, 9], d.Shape.ToArray());
        var dv = d.ToArray<float>();
        var g = x.Grad!.ToArray<float>();
        for (int i = 0; i < dv.Length; i++) Assert.Equal(g[i], dv[i], 1e-5f);
    }

    [Fact]
    public void Project_OneConvLayer_IsTheFilterAtTheActivationsPosition()
    {
        // A single conv + ReLU: projecting activation a at (y, x) gives a·filter placed at the window.
        using var scope = TensorScope.Begin();
        var conv = new Conv2d(3, 2, 3, stride: 1, padding: 0);
        var stack = new FeatureStack([FeatureStack.Wrap("conv", conv)!, FeatureStack.Wrap("relu", new ReLU())!]);
        var img = Tensor.FromArray(VizFixtures.Random(3 * 6 * 6, 8), [1, 3, 6, 6]);
        using var act = stack.Forward(img, 1);
        var a = act.ToArray<float>();
        int map = 1, y = 2, x = 1;
        float value = a[(map * 4 + y) * 4 + x];
        var proj = Deconvnet.Project(stack, 1, img, map, y, x).ToArray<float>();
        var w = conv.Weight.Value.ToArray<float>();
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 6; h++)
                for (int ww = 0; ww < 6; ww++)
                {
                    bool inside = h >= y && h < y + 3 && ww >= x && ww < x + 3;
                    float expected = inside ? value * w[((map * 3 + c) * 3 + h - y) * 3 + ww - x] : 0;
                    Assert.Equal(expected, proj[(c * 6 + h) * 6 + ww], 1e-5f);
                }
        conv.Dispose();
    }

    [Fact]
    public void Project_ThroughPoolAndLrn_StaysInsideTheReceptiveField()
    {
        using var net = VizFixtures.SmallNet();
        var stack = FeatureStack.From(net);
        Assert.Equal(["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6"], stack.Layers.Select(l => l.Name));
        int top = stack.OutputIndexOf("0.4");
        Assert.Equal(5, top);
        using var scope = TensorScope.Begin();
        var img = Tensor.FromArray(VizFixtures.Random(3 * 16 * 16, 9), [1, 3, 16, 16]);
        var act = stack.Forward(img, top); // (1, 6, 6, 6)
        var best = new Dictionary<int, List<Activation>>();
        Deconvnet.CollectTop(act, [0, 1, 2, 3, 4, 5], 1, 0, best);
        var strongest = best.Values.Select(l => l[0]).MaxBy(a => a.Value);
        Assert.True(strongest.Value > 0);
        var proj = Deconvnet.Project(stack, top, img, strongest.Map, strongest.Y, strongest.X).ToArray<float>();
        var box = Deconvnet.ReceptiveField(stack, top, strongest.Y, strongest.X, 16, 16);
        // 3x3 conv (pad 1), 2x2/2 pool, 3x3 conv: rows 2y-1 .. 2y+6, 8 pixels, 7 where clipped at a border.
        Assert.InRange(box.Width, 7, 8);
        Assert.InRange(box.Height, 7, 8);
        Assert.Equal(Math.Max(0, 2 * strongest.Y - 1), box.Y0);
        var field = Deconvnet.ReceptiveField(stack, top, strongest.Y, strongest.X, 16, 16, clip: false);
        Assert.Equal((2 * strongest.X - 1, 2 * strongest.Y - 1, 8, 8), (field.X0, field.Y0, field.Width, field.Height));
        Assert.Contains(proj, v => v != 0);
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 16; h++)
                for (int w = 0; w < 16; w++)
                    if (h < box.Y0 || h >= box.Y1 || w < box.X0 || w >= box.X1)
                        Assert.Equal(0f, proj[(c * 16 + h) * 16 + w]);
    }
}
