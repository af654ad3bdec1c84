using System.Runtime.InteropServices;
using Kiln.Backends.Cuda.Interop;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Max and average pooling: cuDNN where it reproduces the CPU exactly, Kernels/pool.cu otherwise (see
/// Note [cuDNN pooling geometry] in CudnnPlans.cs). The average backward always uses our kernel: the
/// contract gives it only dy and dx, while cudnnPoolingBackward also takes x and y.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>Matches <c>struct PoolGeom</c> in pool.cu (11 ints, by value).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PoolGeom
    {
        public int NC, H, W, P, Q, Kh, Kw, Sh, Sw, Ph, Pw;
    }

    /// <summary>cuDNN's max pooling; its deterministic variant when <see cref="CudnnConvOptions.Deterministic"/> asks for reproducible runs.</summary>
    private cudnnPoolingMode_t MaxPoolMode =>
        ConvOptions.Deterministic ? cudnnPoolingMode_t.CUDNN_POOLING_MAX_DETERMINISTIC : cudnnPoolingMode_t.CUDNN_POOLING_MAX;

    private static PoolGeom Geometry(string op, Tensor x, Tensor y, Pool2dParams p)
    {
        if (x.Rank != 4 || y.Rank != 4 || x.Size(0) != y.Size(0) || x.Size(1) != y.Size(1)
            || y.Size(2) != p.OutputHeight(x.Size(2)) || y.Size(3) != p.OutputWidth(x.Size(3)) || x.DType != y.DType)
            throw new ArgumentException($"CUDA {op}: x {x} and y {y} do not match {p}");
        long planes = (long)x.Size(0) * x.Size(1);
        if (planes > int.MaxValue) throw new InvalidOperationException($"CUDA {op}: {x.ShapeString()} has more than 2^31 planes");
        return new PoolGeom
        {
            NC = (int)planes,
            H = x.Size(2),
            W = x.Size(3),
            P = y.Size(2),
            Q = y.Size(3),
            Kh = p.KernelH,
            Kw = p.KernelW,
            Sh = p.StrideH,
            Sw = p.StrideW,
            Ph = p.PadH,
            Pw = p.PadW,
        };
    }

    public void MaxPool2dForward(Tensor x, Tensor y, Pool2dParams p)
    {
        var g = Geometry("max_pool2d", x, y, p);
        if (CudnnPlans.ChoosePool(p, g.H, g.W, x.DType) == PoolEngine.Cudnn)
        {
            CudnnPoolForward(MaxPoolMode, x, y, p);
            return;
        }
        string suffix = FloatSuffix("max_pool2d", x);
        ulong px = ContiguousPtr(x, "max_pool2d"), py = ContiguousPtr(y, "max_pool2d");
        void** args = stackalloc void*[3];
        args[0] = &px;
        args[1] = &py;
        args[2] = &g;
        Launch1D("pool.cu", $"maxpool2d_forward_{suffix}", y.NumElements, args);
    }

    public void MaxPool2dBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p)
    {
        var g = Geometry("max_pool2d backward", x, y, p);
        if (!dy.SameShape(y) || !dx.SameShape(x)) throw new ArgumentException($"CUDA max_pool2d backward: dy {dy} / dx {dx} do not match y {y} / x {x}");
        if (CudnnPlans.ChoosePool(p, g.H, g.W, x.DType) == PoolEngine.Cudnn)
        {
            CudnnPoolBackward(MaxPoolMode, x, y, dy, dx, p);
            return;
        }
        string suffix = FloatSuffix("max_pool2d backward", x);
        ulong px = ContiguousPtr(x, "max_pool2d backward"), pdy = ContiguousPtr(dy, "max_pool2d backward"), pdx = ContiguousPtr(dx, "max_pool2d backward");
        void** args = stackalloc void*[4];
        args[0] = &px;
        args[1] = &pdy;
        args[2] = &pdx;
        args[3] = &g;
        Launch1D("pool.cu", $"maxpool2d_backward_{suffix}", dx.NumElements, args);
    }

    public void AvgPool2dForward(Tensor x, Tensor y, Pool2dParams p)
    {
        var g = Geometry("avg_pool2d", x, y, p);
        if (CudnnPlans.ChoosePool(p, g.H, g.W, x.DType) == PoolEngine.Cudnn)
        {
            CudnnPoolForward(p.CountIncludePad ? cudnnPoolingMode_t.CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                               : cudnnPoolingMode_t.CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, x, y, p);
            return;
        }
        string suffix = FloatSuffix("avg_pool2d", x);
        ulong px = ContiguousPtr(x, "avg_pool2d"), py = ContiguousPtr(y, "avg_pool2d");
        int include = p.CountIncludePad ? 1 : 0;
        void** args = stackalloc void*[4];
        args[0] = &px;
        args[1] = &py;
        args[2] = &g;
        args[3] = &include;
        Launch1D("pool.cu", $"avgpool2d_forward_{suffix}", y.NumElements, args);
    }

    public void AvgPool2dBackward(Tensor dy, Tensor dx, Pool2dParams p)
    {
        var g = Geometry("avg_pool2d backward", dx, dy, p);
        string suffix = FloatSuffix("avg_pool2d backward", dx);
        ulong pdy = ContiguousPtr(dy, "avg_pool2d backward"), pdx = ContiguousPtr(dx, "avg_pool2d backward");
        int include = p.CountIncludePad ? 1 : 0;
        void** args = stackalloc void*[4];
        args[0] = &pdy;
        args[1] = &pdx;
        args[2] = &g;
        args[3] = &include;
        Launch1D("pool.cu", $"avgpool2d_backward_{suffix}", dx.NumElements, args);
    }

    private CudnnPoolingDescriptorHandle DescribePooling(cudnnPoolingMode_t mode, Pool2dParams p)
    {
        Cudnn.Check(Cudnn.cudnnCreatePoolingDescriptor(out var pd));
        var status = Cudnn.cudnnSetPooling2dDescriptor(pd.Value, mode, cudnnNanPropagation_t.CUDNN_PROPAGATE_NAN,
            p.KernelH, p.KernelW, p.PadH, p.PadW, p.StrideH, p.StrideW);
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
        {
            pd.Dispose();
            throw Cudnn.Error(status, "cudnnSetPooling2dDescriptor", $"{mode} {p}");
        }
        return pd;
    }

    private void CudnnPoolForward(cudnnPoolingMode_t mode, Tensor x, Tensor y, Pool2dParams p)
    {
        var handle = CudnnHandle;
        MakeCurrent();
        string detail = $"{mode} x {x.ShapeString()} y {y.ShapeString()} {x.DType.Name()} {p}";
        using var pd = DescribePooling(mode, p);
        using var xd = DescribeTensor(x);
        using var yd = DescribeTensor(y);
        CheckCudnn(Cudnn.cudnnGetPooling2dForwardOutputDim(pd.Value, xd.Value, out int n, out int c, out int h, out int w), "cudnnGetPooling2dForwardOutputDim", detail);
        if (n != y.Size(0) || c != y.Size(1) || h != y.Size(2) || w != y.Size(3))
            throw new InvalidOperationException($"cuDNN pooling computes ({n}, {c}, {h}, {w}) for {detail} (CudnnPlans.ChoosePool should have routed this to pool.cu)");
        ConvScalars(x, out var s);
        CheckCudnn(Cudnn.cudnnPoolingForward(handle.Value, pd.Value, s.One, xd.Value, (nint)ContiguousPtr(x, "pool2d"), s.Zero, yd.Value, (nint)ContiguousPtr(y, "pool2d")),
            "cudnnPoolingForward", detail);
        GC.KeepAlive(handle);
    }

    private void CudnnPoolBackward(cudnnPoolingMode_t mode, Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p)
    {
        var handle = CudnnHandle;
        MakeCurrent();
        string detail = $"{mode} backward x {x.ShapeString()} y {y.ShapeString()} {x.DType.Name()} {p}";
        using var pd = DescribePooling(mode, p);
        using var xd = DescribeTensor(x);
        using var yd = DescribeTensor(y);
        ConvScalars(x, out var s);
        CheckCudnn(Cudnn.cudnnPoolingBackward(handle.Value, pd.Value, s.One, yd.Value, (nint)ContiguousPtr(y, "pool2d backward"), yd.Value,
            (nint)ContiguousPtr(dy, "pool2d backward"), xd.Value, (nint)ContiguousPtr(x, "pool2d backward"), s.Zero, xd.Value,
            (nint)ContiguousPtr(dx, "pool2d backward")), "cudnnPoolingBackward", detail);
        GC.KeepAlive(handle);
    }
}
