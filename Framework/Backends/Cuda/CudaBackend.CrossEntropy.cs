using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

// Note [Deferred label check]
// The CPU backend throws on a label outside [0, C) before computing anything. On the GPU the labels are
// already on the device, and reading them back would cost a synchronisation per step. So the forward
// kernel records the first bad sample (index + 1) in a 4-byte device flag and writes a NaN loss for it,
// and the host checks the flag at its next synchronisation (Synchronize, CopyToHost — reading the loss is
// one), throwing the same ArgumentOutOfRangeException as the CPU there. The flag is reset when read.

public sealed unsafe partial class CudaBackend
{
    private DeviceBuffer? _labelFlag;
    private bool _labelCheckPending;
    private string _labelCheckContext = "";

    /// <summary>Samples per cross-entropy launch handled by one block each (block-stride beyond).</summary>
    private const int MaxCrossEntropyBlocks = 65535;

    private ulong LabelFlag()
    {
        if (_labelFlag is null)
        {
            _labelFlag = Allocator.Allocate(sizeof(int));
            MakeCurrent();
            CudaDriver.Check(CudaDriver.cuMemsetD32Async(_labelFlag.Pointer, 0, 1, Stream));
        }
        return _labelFlag.Pointer;
    }

    private void CheckCrossEntropy(string op, Tensor logits, Tensor labels)
    {
        if (logits.Rank != 2 || !logits.IsContiguous) throw new ArgumentException($"CUDA {op}: logits must be contiguous (N, C), got {logits}");
        if (labels.DType != DType.Int32 || labels.Rank != 1 || labels.Size(0) != logits.Size(0) || !labels.IsContiguous)
            throw new ArgumentException($"CUDA {op}: labels must be contiguous ({logits.Size(0)}) int32, got {labels}");
    }

    public void CrossEntropyForward(Tensor logits, Tensor labels, double smoothing, Tensor loss)
    {
        const string op = "cross_entropy";
        CheckCrossEntropy(op, logits, labels);
        if (loss.NumElements != logits.Size(0) || loss.DType != logits.DType) throw new ArgumentException($"CUDA {op}: loss must be ({logits.Size(0)}) {logits.DType.Name()}, got {loss}");
        string suffix = FloatSuffix(op, logits);
        int n = logits.Size(0), c = logits.Size(1);
        if (n == 0) return;
        ulong px = Ptr(logits), pl = Ptr(labels), py = ContiguousPtr(loss, op), flag = LabelFlag();
        void** args = stackalloc void*[7];
        args[0] = &px;
        args[1] = &pl;
        args[2] = &py;
        args[3] = &n;
        args[4] = &c;
        args[5] = &smoothing;
        args[6] = &flag;
        string name = $"crossentropy_forward_{suffix}";
        Launch(Function("crossentropy.cu", name), name, (uint)Math.Min(n, MaxCrossEntropyBlocks), 1, BlockSize, args);
        _labelCheckPending = true;
        _labelCheckContext = $"logits {logits.ShapeString()}";
    }

    public void CrossEntropyBackward(Tensor logits, Tensor labels, double smoothing, Tensor dloss, Tensor dlogits)
    {
        const string op = "cross_entropy backward";
        CheckCrossEntropy(op, logits, labels);
        if (!dlogits.SameShape(logits) || dloss.NumElements != logits.Size(0)) throw new ArgumentException($"CUDA {op}: dloss {dloss} / dlogits {dlogits} do not match logits {logits}");
        string suffix = FloatSuffix(op, logits);
        int n = logits.Size(0), c = logits.Size(1);
        if (n == 0) return;
        ulong px = Ptr(logits), pl = Ptr(labels), pd = ContiguousPtr(dloss, op), pdx = ContiguousPtr(dlogits, op);
        void** args = stackalloc void*[7];
        args[0] = &px;
        args[1] = &pl;
        args[2] = &pd;
        args[3] = &pdx;
        args[4] = &n;
        args[5] = &c;
        args[6] = &smoothing;
        string name = $"crossentropy_backward_{suffix}";
        Launch(Function("crossentropy.cu", name), name, (uint)Math.Min(n, MaxCrossEntropyBlocks), 1, BlockSize, args);
    }

    /// <summary>
    /// Throws if a cross-entropy since the last check saw a label outside [0, C) (Note [Deferred label check]).
    /// Call after the stream is synchronised.
    /// </summary>
    private void ThrowIfBadLabel()
    {
        if (!_labelCheckPending || _labelFlag is null) return;
        _labelCheckPending = false;
        int bad;
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(&bad, _labelFlag.Pointer, sizeof(int), Stream));
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream));
        if (bad == 0) return;
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(_labelFlag.Pointer, 0, 1, Stream));
        throw new ArgumentOutOfRangeException("labels",
            $"cross_entropy: the label of sample {bad - 1} is outside [0, C) for {_labelCheckContext} (found on {Device} at the next synchronisation; its loss is NaN)");
    }
}
