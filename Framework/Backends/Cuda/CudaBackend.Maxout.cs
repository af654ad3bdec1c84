namespace Kiln.Backends.Cuda;

/// <summary>Maxout and L2 normalisation over the middle axis of an (outer, C, inner) view (Kernels/maxout.cu).</summary>
public sealed unsafe partial class CudaBackend
{
    private static void CheckRows(string op, Tensor t, int outer, int channels, int inner)
    {
        if ((long)outer * channels * inner != t.NumElements)
            throw new ArgumentException($"CUDA {op}: {t} is not an ({outer}, {channels}, {inner}) view");
    }

    private void MaxoutLaunch(string name, Tensor x, Tensor? dy, Tensor output, int outer, int channels, int inner, int groupSize)
    {
        string op = name.StartsWith("maxout_forward", StringComparison.Ordinal) ? "maxout" : "maxout backward";
        if (groupSize < 1 || channels % groupSize != 0) throw new ArgumentException($"CUDA {op}: group size {groupSize} must divide {channels} channels of {x}");
        CheckRows(op, x, outer, channels, inner);
        long inner64 = inner, outputs = (long)outer * (channels / groupSize) * inner;
        ulong px = ContiguousPtr(x, op), pout = ContiguousPtr(output, op);
        if (dy is null)
        {
            void** args = stackalloc void*[6];
            args[0] = &px;
            args[1] = &pout;
            args[2] = &outer;
            args[3] = &channels;
            args[4] = &inner64;
            args[5] = &groupSize;
            Launch1D("maxout.cu", name, outputs, args);
        }
        else
        {
            ulong pdy = ContiguousPtr(dy, op);
            void** args = stackalloc void*[7];
            args[0] = &px;
            args[1] = &pdy;
            args[2] = &pout;
            args[3] = &outer;
            args[4] = &channels;
            args[5] = &inner64;
            args[6] = &groupSize;
            Launch1D("maxout.cu", name, outputs, args);
        }
    }

    public void MaxoutForward(Tensor x, Tensor y, int outer, int channels, int inner, int groupSize) =>
        MaxoutLaunch($"maxout_forward_{FloatSuffix("maxout", x)}", x, null, y, outer, channels, inner, groupSize);

    public void MaxoutBackward(Tensor x, Tensor dy, Tensor dx, int outer, int channels, int inner, int groupSize) =>
        MaxoutLaunch($"maxout_backward_{FloatSuffix("maxout backward", x)}", x, dy, dx, outer, channels, inner, groupSize);

    public void L2NormalizeForward(Tensor x, Tensor y, int outer, int channels, int inner, double eps)
    {
        const string op = "l2_normalize";
        CheckRows(op, x, outer, channels, inner);
        string suffix = FloatSuffix(op, x);
        ulong px = ContiguousPtr(x, op), py = ContiguousPtr(y, op);
        long inner64 = inner;
        void** args = stackalloc void*[6];
        args[0] = &px;
        args[1] = &py;
        args[2] = &outer;
        args[3] = &channels;
        args[4] = &inner64;
        args[5] = &eps;
        Launch1D("maxout.cu", $"l2norm_forward_{suffix}", (long)outer * inner, args);
    }

    public void L2NormalizeBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, double eps)
    {
        const string op = "l2_normalize backward";
        CheckRows(op, x, outer, channels, inner);
        string suffix = FloatSuffix(op, x);
        ulong py = ContiguousPtr(y, op), px = ContiguousPtr(x, op), pdy = ContiguousPtr(dy, op), pdx = ContiguousPtr(dx, op);
        long inner64 = inner;
        void** args = stackalloc void*[8];
        args[0] = &py;
        args[1] = &px;
        args[2] = &pdy;
        args[3] = &pdx;
        args[4] = &outer;
        args[5] = &channels;
        args[6] = &inner64;
        args[7] = &eps;
        Launch1D("maxout.cu", $"l2norm_backward_{suffix}", (long)outer * inner, args);
    }
}
