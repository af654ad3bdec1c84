using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Device-side checks (Kernels/check.cu) and the filter renorm (Kernels/renorm.cu): one launch per batch of
/// tensors and one small device-to-host read per question, never a round trip per tensor.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>Tensors per non-finite launch (gridDim.y limit).</summary>
    private const int MaxTensorsPerLaunch = 65535;

    public void RenormFilters(Tensor w, double maxRms)
    {
        const string op = "renorm_filters";
        string suffix = FloatSuffix(op, w);
        if (w.Rank < 1 || w.NumElements == 0) return;
        int rows = w.Size(0);
        long len = w.NumElements / rows;
        ulong pw = ContiguousPtr(w, op);
        void** args = stackalloc void*[3];
        args[0] = &pw;
        args[1] = &len;
        args[2] = &maxRms;
        string name = $"renorm_forward_{suffix}";
        if ((uint)rows > Info.MaxGridDimX) throw new InvalidOperationException($"CUDA {op}: {rows} filters exceed the grid limit for {w}");
        Launch(Function("renorm.cu", name), name, (uint)rows, 1, BlockSize, args);
    }

    /// <summary>
    /// True if any element of any of <paramref name="tensors"/> (contiguous, float32 or float64, on this
    /// device) is NaN or infinite: one launch per dtype (per 65535 tensors) writing one device flag, then one
    /// 4-byte read, which synchronises the stream.
    /// </summary>
    public bool AnyNonFinite(IReadOnlyList<Tensor> tensors)
    {
        using var flag = Allocator.Allocate(sizeof(int));
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(flag.Pointer, 0, 1, Stream));
        QueueNonFiniteCheck(tensors, flag.Pointer);
        int result;
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(&result, flag.Pointer, sizeof(int), Stream));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream));
        return result != 0;
    }

    /// <summary>Queues the checks that set the int at <paramref name="flag"/> to 1 on a non-finite element; nothing is read back.</summary>
    internal void QueueNonFiniteCheck(IReadOnlyList<Tensor> tensors, ulong flag)
    {
        void** args = stackalloc void*[4];
        foreach (var dtype in (DType[])[DType.Float32, DType.Float64])
        {
            var ptrs = new List<ulong>();
            var counts = new List<long>();
            long maxCount = 0;
            foreach (var t in tensors)
            {
                if (t.DType is not (DType.Float32 or DType.Float64))
                    throw new ArgumentException($"non-finite check on CUDA supports float32 and float64, got {t}");
                if (t.DType != dtype || t.NumElements == 0) continue;
                ptrs.Add(ContiguousPtr(t, "non-finite check"));
                counts.Add(t.NumElements);
                maxCount = Math.Max(maxCount, t.NumElements);
            }
            if (ptrs.Count == 0) continue;
            // One table of pointers then counts; pageable host-to-device copies are staged before the call returns.
            using var table = Allocator.Allocate(ptrs.Count * 16L);
            ulong ptrTable = table.Pointer, countTable = table.Pointer + (ulong)(ptrs.Count * 8L);
            var p = ptrs.ToArray();
            var c = counts.ToArray();
            MakeCurrent();
            fixed (ulong* pp = p)
                CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(ptrTable, pp, (nuint)(p.Length * 8L), Stream));
            fixed (long* pc = c)
                CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(countTable, pc, (nuint)(c.Length * 8L), Stream));
            string name = dtype == DType.Float32 ? "nonfinite_check_f32" : "nonfinite_check_f64";
            nint f = Function("check.cu", name);
            uint gridX = (uint)Math.Min(GridFor(maxCount), Math.Max(2L, Info.MultiprocessorCount * 32L / Math.Min(p.Length, MaxTensorsPerLaunch)));
            for (int first = 0; first < p.Length; first += MaxTensorsPerLaunch)
            {
                int firstTensor = first;
                args[0] = &ptrTable;
                args[1] = &countTable;
                args[2] = &firstTensor;
                args[3] = &flag;
                Launch(f, name, gridX, (uint)Math.Min(MaxTensorsPerLaunch, p.Length - first), BlockSize, args);
            }
        }
    }

    /// <summary>
    /// How many rows of <paramref name="logits"/> (N, C) rank their int32 label within the top
    /// <paramref name="k1"/> and within the top <paramref name="k2"/> (Training.Accuracy's tie rule), counted on the
    /// device; one 8-byte read back.
    /// </summary>
    public (int TopK1, int TopK2) CountTopK(Tensor logits, Tensor labels, int k1, int k2)
    {
        const string op = "top-k count";
        CheckCrossEntropy(op, logits, labels);
        int n = logits.Size(0), c = logits.Size(1);
        if (k1 < 1 || k2 < 1) throw new ArgumentOutOfRangeException(nameof(k1), $"{op}: k must be >= 1, got {k1} and {k2} for {c} classes");
        string suffix = FloatSuffix(op, logits);
        using var counts = Allocator.Allocate(2 * sizeof(int));
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(counts.Pointer, 0, 2, Stream));
        ulong px = Ptr(logits), pl = Ptr(labels), pc = counts.Pointer;
        void** args = stackalloc void*[7];
        args[0] = &px;
        args[1] = &pl;
        args[2] = &n;
        args[3] = &c;
        args[4] = &k1;
        args[5] = &k2;
        args[6] = &pc;
        Launch1D("check.cu", $"topk_count_{suffix}", n, args);
        int* result = stackalloc int[2];
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(result, counts.Pointer, 2 * sizeof(int), Stream));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream));
        return (result[0], result[1]);
    }
}
