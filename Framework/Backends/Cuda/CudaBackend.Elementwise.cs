namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void Add(Tensor a, Tensor b, Tensor y) => Binary("add_forward", a, b, y);

    public void AddInPlace(Tensor acc, Tensor x) => Binary("add_forward", acc, x, acc);

    /// <summary>y = a * b elementwise (contiguous, same shape).</summary>
    public void Mul(Tensor a, Tensor b, Tensor y) => Binary("mul_forward", a, b, y);

    public void Scale(Tensor x, double alpha, Tensor y)
    {
        string suffix = FloatSuffix("scale", y);
        ulong px = ContiguousPtr(x, "scale"), py = ContiguousPtr(y, "scale");
        long n = y.NumElements;
        float alpha32 = (float)alpha;
        void** args = stackalloc void*[4];
        args[0] = &px;
        args[1] = y.DType == DType.Float32 ? &alpha32 : &alpha;
        args[2] = &py;
        args[3] = &n;
        Launch1D("elementwise.cu", $"scale_forward_{suffix}", n, args);
    }

    private void Binary(string kernel, Tensor a, Tensor b, Tensor y)
    {
        string suffix = FloatSuffix(kernel, y);
        if (a.NumElements != y.NumElements || b.NumElements != y.NumElements)
            throw new ArgumentException($"{kernel}: sizes differ, {a.ShapeString()}, {b.ShapeString()} -> {y.ShapeString()}");
        ulong pa = ContiguousPtr(a, kernel), pb = ContiguousPtr(b, kernel), py = ContiguousPtr(y, kernel);
        long n = y.NumElements;
        void** args = stackalloc void*[4];
        args[0] = &pa;
        args[1] = &pb;
        args[2] = &py;
        args[3] = &n;
        Launch1D("elementwise.cu", $"{kernel}_{suffix}", n, args);
    }
}
