using Kiln.Backends.Cuda;
using Kiln.Cli.Training;
using Kiln.Data;
using Kiln.Training;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>
/// The CUDA half of batch prefetch (Note [Batch prefetch ordering]) on a real device: each step reads its own batch
/// even when it reads it late, behind long kernels, while the next uploads are already queued. Skips without a GPU.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class BatchPrefetchGpuTests
{
    private const int Capacity = 4, Channels = 3, Size = 8;

    /// <summary>Batch <paramref name="i"/>: pixels and labels that differ from every other batch's; the last of <paramref name="count"/> is short.</summary>
    private static HostBatch MakeBatch(int i, int count, BatchFormat format)
    {
        int n = i == count - 1 ? 2 : Capacity;
        int elements = Capacity * Channels * Size * Size;
        var transform = TransformOptions.Eval with { OutputSize = Size, Channels = Channels };
        HostBatch b;
        if (format == BatchFormat.Float32Nchw)
        {
            var data = new float[elements];
            for (int j = 0; j < elements; j++) data[j] = i * 1000 + j * 0.25f;
            b = new HostBatch(data, Capacity, 1, Channels, Size, null, transform);
        }
        else
        {
            var bytes = new byte[elements];
            for (int j = 0; j < elements; j++) bytes[j] = (byte)(i * 37 + j * 11);
            b = new HostBatch(bytes, Capacity, 1, Channels, Size, null, transform);
        }
        b.Count = n;
        for (int k = 0; k < n; k++) b.Labels[k] = i * 10 + k;
        return b;
    }

    [Theory]
    [InlineData(BatchFormat.Float32Nchw)]
    [InlineData(BatchFormat.UInt8Nhwc)]
    public void CudaBatchUploader_ThroughThePrefetcher_EachStepReadsItsOwnBatch_EvenBehindLongKernels(BatchFormat format)
    {
        CudaTestEnvironment.RequireKernels();
        CudaTestEnvironment.RequireCublas();
        var cuda = Device.Cuda(0);
        const int count = 7;
        // What each step must see: the same batch uploaded the plain way (same normalisation kernel, so bit for bit).
        var expectedX = new float[count][];
        var expectedY = new int[count][];
        for (int i = 0; i < count; i++)
        {
            var b = MakeBatch(i, count, format);
            using var x = BatchInput.ToDevice(b, cuda);
            expectedX[i] = x.ToArray<float>();
            expectedY[i] = b.Labels[..b.Count];
        }

        using var busy = Tensor.Ones([4096, 4096], DType.Float32, cuda);   // a few ms of GEMM per step, to widen any race
        var seenX = new List<Tensor>();
        var seenY = new List<Tensor>();
        using var uploader = new CudaBatchUploader((CudaBackend)Backend.For(cuda));
        var prefetcher = new BatchPrefetcher(uploader);
        try
        {
            foreach (var (batch, slot) in prefetcher.Run(Enumerable.Range(0, count).Select(i => MakeBatch(i, count, format))))
            {
                using (batch)
                {
                    using var scope = TensorScope.Begin();
                    for (int k = 0; k < 3; k++) Op.MatMul(busy, busy);   // queued before the step reads its slot
                    var (x, y) = uploader.Take(slot, batch);
                    // Copies queued behind the GEMMs and read only after the loop: by then the next uploads into this
                    // slot have been issued, and must have waited for these copies (point 2 of the Note).
                    seenX.Add(x.To(DType.Float32).MoveOutOfScope());   // device-to-device copies on the compute stream
                    seenY.Add(y.To(DType.Int32).MoveOutOfScope());
                }
            }
            Assert.Equal(count, seenX.Count);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(expectedX[i], seenX[i].ToArray<float>());
                Assert.Equal(expectedY[i], seenY[i].ToArray<int>());
            }
        }
        finally
        {
            foreach (var t in seenX.Concat(seenY)) t.Dispose();
        }
    }
}
