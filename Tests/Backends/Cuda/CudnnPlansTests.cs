using System.Runtime.InteropServices;
using Kiln.Backends.Cuda;
using Kiln.Tests.Core.Ops;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>The host-side decisions of the cuDNN paths (CudnnPlans): no GPU needed.</summary>
public sealed class CudnnPlansTests
{
    [Fact]
    public void CudnnPoolOutputSize_EqualsOurFloorRule_Everywhere()
    {
        for (int size = 1; size <= 20; size++)
            for (int k = 1; k <= 5; k++)
                for (int s = 1; s <= 4; s++)
                    for (int pad = 0; pad <= k / 2; pad++)
                        if (size + 2 * pad >= k)
                            Assert.Equal(Pool2dParams.OutputSize(size, k, s, pad, ceilMode: false), CudnnPlans.CudnnPoolOutputSize(size, k, s, pad));
    }

    [Theory]
    [InlineData(7, 3, 2, 0, false, true)]    // AlexNet-style, floor
    [InlineData(6, 2, 2, 0, true, true)]     // ceil mode, but it adds no window
    [InlineData(10, 3, 2, 0, true, false)]   // ceil adds a window: (10-3)/2 = 3.5
    [InlineData(5, 2, 2, 0, true, false)]
    [InlineData(6, 3, 2, 1, true, false)]
    [InlineData(7, 3, 2, 1, true, true)]     // (7+2-3)/2 = 3 exactly
    [InlineData(112, 3, 2, 0, true, false)]  // GoogLeNet pool1 on 224: ceil 56, floor 55
    public void ChoosePool_UsesCudnnOnlyWithoutCeilOverhang(int size, int k, int s, int pad, bool ceil, bool cudnn)
    {
        var expected = cudnn ? PoolEngine.Cudnn : PoolEngine.Kernel;
        var p = Pool2dParams.Square(k, s, pad, ceil);
        Assert.Equal(expected, CudnnPlans.ChoosePool(p, size, size, DType.Float32));
        // The overhang in one dimension alone is enough to need the kernel.
        if (expected == PoolEngine.Kernel) Assert.Equal(PoolEngine.Kernel, CudnnPlans.ChoosePool(p, size, 2 * s + k, DType.Float32));
    }

    [Fact]
    public void ChoosePool_OpTableCases_CudnnExactlyWhenSizesAgree()
    {
        // Every pooling case of the op table: cuDNN is chosen iff its floor size equals ours in both dims.
        (int H, int W, Pool2dParams P)[] cases =
        [
            (7, 7, Pool2dParams.Square(3, 2, 0, false)), (6, 6, Pool2dParams.Square(2, 2, 0, false)),
            (10, 7, Pool2dParams.Square(3, 2, 0, true)), (5, 7, Pool2dParams.Square(2, 2, 0, true)),
            (5, 6, Pool2dParams.Square(3, 1, 1, false)), (6, 7, Pool2dParams.Square(3, 2, 1, true)),
            (6, 7, Pool2dParams.Square(3, 2, 1, true, countIncludePad: false)),
        ];
        foreach (var (h, w, p) in cases)
        {
            bool agree = p.OutputHeight(h) == CudnnPlans.CudnnPoolOutputSize(h, p.KernelH, p.StrideH, p.PadH)
                      && p.OutputWidth(w) == CudnnPlans.CudnnPoolOutputSize(w, p.KernelW, p.StrideW, p.PadW);
            Assert.Equal(agree ? PoolEngine.Cudnn : PoolEngine.Kernel, CudnnPlans.ChoosePool(p, h, w, DType.Float32));
        }
        Assert.Equal(PoolEngine.Kernel, CudnnPlans.ChoosePool(Pool2dParams.Square(2, 2, 0, false), 4, 4, DType.Int32));
    }

    [Fact]
    public void LrnWindows_AgreeForOddSizes_DifferForEven()
    {
        for (int size = 1; size <= 16; size++)
            for (int c = 0; c < 20; c++)
            {
                var ours = CudnnPlans.KilnLrnWindow(c, size);
                var theirs = CudnnPlans.CudnnLrnWindow(c, size);
                Assert.Equal(size, ours.Hi - ours.Lo + 1);
                Assert.Equal(size, theirs.Hi - theirs.Lo + 1);
                if (size % 2 == 1) Assert.Equal(ours, theirs);
                else Assert.Equal((ours.Lo + 1, ours.Hi + 1), theirs);   // cuDNN's even window sits one channel higher
            }
    }

    [Fact]
    public void LrnAlpha_BothOfOurConventions_MapToCudnnsDividedAlpha()
    {
        // Op.LocalResponseNorm hands the backend alpha' = alpha / n (DividedBySize) or alpha (AsWritten);
        // cuDNN divides its lrnAlpha by n, so lrnAlpha = alpha' * n.
        Assert.Equal(1e-4, CudnnPlans.CudnnLrnAlpha(1e-4 / 5, 5), 12);                  // Caffe/PyTorch alpha 1e-4 carries over
        Assert.Equal(5e-4, CudnnPlans.CudnnLrnAlpha(1e-4, 5), 12);                      // the AlexNet paper's alpha 1e-4 is 5e-4 in cuDNN
        Assert.Equal(0.9, CudnnPlans.CudnnLrnAlpha(0.9 / 3, 3), 12);
    }

    [Theory]
    [InlineData(5, 0.75, 2.0, true)]
    [InlineData(3, 0.75, 1.0, true)]
    [InlineData(1, 0.75, 1.0, true)]
    [InlineData(15, 0.75, 1.0, true)]
    [InlineData(4, 0.75, 1.0, false)]     // even: windows differ
    [InlineData(17, 0.75, 1.0, false)]    // n > CUDNN_LRN_MAX_N
    [InlineData(5, 0.005, 1.0, false)]    // beta < CUDNN_LRN_MIN_BETA
    [InlineData(5, 0.75, 1e-6, false)]    // k < CUDNN_LRN_MIN_K
    public void ChooseLrn_RespectsWindowAndLimits(int size, double beta, double k, bool cudnn) =>
        Assert.Equal(cudnn ? LrnEngine.Cudnn : LrnEngine.Kernel, CudnnPlans.ChooseLrn(size, beta, k, DType.Float32));

    private static ConvAlgoCandidate C(int algo, int status = 0, long memory = 0, bool det = true, int math = CudnnPlans.DefaultMath) =>
        new(algo, status, memory, det, math, 1f);

    [Fact]
    public void PickAlgo_TakesFirstUsable_InCudnnsOrder()
    {
        ConvAlgoCandidate[] c = [C(6, status: 3000), C(7, memory: 1 << 30), C(1, det: false), C(0)];
        Assert.Equal(2, CudnnPlans.PickAlgo(ConvPass.Forward, c, deterministic: false, allowTf32: true, budgetBytes: 1 << 20));
        Assert.Equal(3, CudnnPlans.PickAlgo(ConvPass.Forward, c, deterministic: true, allowTf32: true, budgetBytes: 1 << 20));
        Assert.Equal(1, CudnnPlans.PickAlgo(ConvPass.Forward, c, deterministic: false, allowTf32: true, budgetBytes: 1L << 31));
        Assert.Equal(-1, CudnnPlans.PickAlgo(ConvPass.Forward, [C(1, status: 3000), C(2, memory: 100)], false, true, 10));
        Assert.Contains("algo 2: status 0, workspace 100 B", CudnnPlans.Describe([C(1, status: 3000), C(2, memory: 100)]));
    }

    [Fact]
    public void PickAlgo_Tf32Policy_AndNeverDownConversion()
    {
        ConvAlgoCandidate[] c = [C(1, math: CudnnPlans.TensorOpMathAllowConversion), C(2, math: CudnnPlans.TensorOpMath), C(3, math: CudnnPlans.FmaMath)];
        Assert.Equal(1, CudnnPlans.PickAlgo(ConvPass.Forward, c, false, allowTf32: true, 1 << 20));
        Assert.Equal(2, CudnnPlans.PickAlgo(ConvPass.Forward, c, false, allowTf32: false, 1 << 20));
        Assert.Equal(CudnnPlans.FmaMath, CudnnPlans.RunMathType(c[2] with { MathType = CudnnPlans.DefaultMath }, allowTf32: false, DType.Float32));
        Assert.Equal(CudnnPlans.TensorOpMath, CudnnPlans.RunMathType(c[1], allowTf32: true, DType.Float32));
        Assert.Equal(CudnnPlans.TensorOpMath, CudnnPlans.SearchMathType(allowTf32: true, DType.Float32));
        Assert.Equal(CudnnPlans.FmaMath, CudnnPlans.SearchMathType(allowTf32: false, DType.Float32));
        Assert.Equal(CudnnPlans.DefaultMath, CudnnPlans.SearchMathType(allowTf32: true, DType.Float64));
    }

    [Theory]
    [InlineData(0, 7, 1)]   // forward: WINOGRAD_NONFUSED, then IMPLICIT_PRECOMP_GEMM
    [InlineData(0, 6, 1)]   // forward: WINOGRAD
    [InlineData(1, 5, 1)]   // backward data: WINOGRAD_NONFUSED, then ALGO_1
    [InlineData(1, 4, 1)]   // backward data: WINOGRAD
    [InlineData(2, 5, 1)]   // backward filter: WINOGRAD_NONFUSED
    public void PickAlgo_StrictFp32_SkipsWinograd_Tf32KeepsIt(int passIndex, int winograd, int next)
    {
        var pass = (ConvPass)passIndex;   // ConvPass is internal, so the theory takes its index
        ConvAlgoCandidate[] c = [C(winograd, math: CudnnPlans.FmaMath), C(next, math: CudnnPlans.FmaMath)];
        Assert.True(CudnnPlans.IsWinograd(pass, winograd));
        Assert.False(CudnnPlans.IsWinograd(pass, next));
        Assert.Equal(1, CudnnPlans.PickAlgo(pass, c, false, allowTf32: false, 1 << 20));
        Assert.Equal(0, CudnnPlans.PickAlgo(pass, c, false, allowTf32: true, 1 << 20));
    }

    [Fact]
    public void IsWinograd_FollowsEachPasssEnum()
    {
        // FFT_TILING of backward filter is 6, where the forward's 6 is WINOGRAD (cudnn.md §5).
        Assert.False(CudnnPlans.IsWinograd(ConvPass.BackwardFilter, 6));
        Assert.True(CudnnPlans.IsWinograd(ConvPass.Forward, 6));
        Assert.False(CudnnPlans.IsWinograd(ConvPass.Forward, 5));   // FFT_TILING
        Assert.False(CudnnPlans.IsWinograd(ConvPass.BackwardData, 3));
    }

    [Fact]
    public void ConvAlgoKey_DistinguishesEveryInput_AndMatchesEqualCalls()
    {
        using var x = Tensor.Zeros([2, 4, 9, 9]);
        using var w = Tensor.Zeros([6, 2, 3, 3]);
        var p = new Conv2dParams(1, 1, 1, 2);
        var o = new CudnnConvOptions();
        var k = ConvAlgoKey.Of(ConvPass.Forward, x, w, p, o, allowTf32: true);
        Assert.Equal(k, ConvAlgoKey.Of(ConvPass.Forward, x, w, new Conv2dParams(1, 1, 1, 2), o, true));
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.BackwardData, x, w, p, o, true));
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.Forward, x, w, p, o, false));
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.Forward, x, w, new Conv2dParams(2, 1, 1, 2), o, true));
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.Forward, x, w, p, new CudnnConvOptions { Deterministic = true }, true));
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.Forward, x, w, p, new CudnnConvOptions { WorkspaceBudgetBytes = 1 }, true));
        using var x2 = Tensor.Zeros([3, 4, 9, 9]);
        Assert.NotEqual(k, ConvAlgoKey.Of(ConvPass.Forward, x2, w, p, o, true));
        Assert.Contains("x (2, 4, 9, 9) w (6, 2, 3, 3)", k.ToString());
        Assert.Contains("groups 2", k.ToString());
    }

    [Fact]
    public void KernelArgumentStructs_MatchTheirCudaLayouts()
    {
        Assert.Equal(11 * sizeof(int), Marshal.SizeOf<CudaBackend.PoolGeom>());   // struct PoolGeom in pool.cu
    }

    [Fact]
    public void OpTable_BatchNormCases_BuildStatisticsOnTheInputsDevice()
    {
        // The parity test runs the table on CUDA; a case that built its buffers on the CPU would mix devices.
        using var scope = TensorScope.Begin();
        var c = OpCases.Get("batchnorm2d_eval_affine");
        var xs = OpHarness.MakeTensors(c, OpHarness.SampleInputs(c), DType.Float32, requiresGrad: false);
        Assert.Equal(xs[0].Device, c.Run(xs).Device);
    }

    [Fact]
    public void ConvAlgoCacheFile_RoundTrips_AndIgnoresOtherDevices()
    {
        var k1 = new ConvAlgoKey(ConvPass.BackwardFilter, DType.Float32, 8, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false, 512L << 20);
        var k2 = k1 with { Pass = ConvPass.Forward, Groups = 2, AllowTf32 = false, Deterministic = true };
        var entries = new Dictionary<ConvAlgoKey, ConvAlgoChoice>
        {
            [k1] = new(3, CudnnPlans.TensorOpMath, 1 << 20, true),
            [k2] = new(1, CudnnPlans.FmaMath, 0, false),
        };
        string text = ConvAlgoCacheFile.Format("NVIDIA H100 sm_90 cudnn 90600", entries);
        var back = ConvAlgoCacheFile.Parse(text, "NVIDIA H100 sm_90 cudnn 90600", "algos.txt");
        Assert.Equal(entries.OrderBy(e => e.Key.ToString()), back.OrderBy(e => e.Key.ToString()));
        Assert.Empty(ConvAlgoCacheFile.Parse(text, "NVIDIA A100 sm_80 cudnn 90600", "algos.txt"));
        // A v1 file predates Note [Strict FP32 excludes Winograd]: its strict choices may be Winograd, so it is searched again.
        Assert.Contains("# kiln conv algorithms v2 |", text);
        Assert.Empty(ConvAlgoCacheFile.Parse(text.Replace("algorithms v2", "algorithms v1"), "NVIDIA H100 sm_90 cudnn 90600", "algos.txt"));
        var e = Assert.Throws<FormatException>(() => ConvAlgoCacheFile.Parse(text + "Forward Float32 1 2 3\n", "NVIDIA H100 sm_90 cudnn 90600", "algos.txt"));
        Assert.Contains("algos.txt:4", e.Message);
    }
}
