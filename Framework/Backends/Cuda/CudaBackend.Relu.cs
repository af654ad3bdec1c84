namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void ReluForward(Tensor x, Tensor y)
    {
        string suffix = FloatSuffix("relu", x);
        ulong px = ContiguousPtr(x, "relu"), py = ContiguousPtr(y, "relu");
        long n = x.NumElements;
        void** args = stackalloc void*[3];
        args[0] = &px;
        args[1] = &py;
        args[2] = &n;
        Launch1D("relu.cu", $"relu_forward_{suffix}", n, args);
    }

    public void ReluBackward(Tensor y, Tensor dy, Tensor dx)
    {
        string suffix = FloatSuffix("relu backward", y);
        ulong py = ContiguousPtr(y, "relu backward"), pdy = ContiguousPtr(dy, "relu backward"), pdx = ContiguousPtr(dx, "relu backward");
        long n = y.NumElements;
        void** args = stackalloc void*[4];
        args[0] = &py;
        args[1] = &pdy;
        args[2] = &pdx;
        args[3] = &n;
        Launch1D("relu.cu", $"relu_backward_{suffix}", n, args);
    }
}
