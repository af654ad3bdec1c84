using Kiln.Backends.Cuda;
using Kiln.Core;
using Kiln.Data;
using Kiln.Training;

namespace Kiln.Cli.Training;

/// <summary>
/// The CUDA half of the trainer's batch prefetch (Note [Batch prefetch ordering]). Per slot: page-locked staging
/// buffers for pixels and labels, the slot's device tensors (allocated at the first batch, kept for the run), the
/// events that complete with its last upload, and the event <see cref="Release"/> records after the step that used it.
/// </summary>
public sealed class CudaBatchUploader(CudaBackend cuda) : IBatchUploader, IDisposable
{
    private readonly Slot[] _slots = [new(), new()];

    private sealed class Slot
    {
        public (BatchFormat Format, int Rows, int C, int H, int W, int Labels) Layout;
        public PinnedHostBuffer? PixelStaging, LabelStaging;
        public Tensor? Pixels;   // (rows, C, H, W) float32 or (rows, H, W, C) uint8; rows = batch capacity × views
        public Tensor? Labels;   // (capacity) int32
        public CudaEvent? PixelsCopied, LabelsCopied;   // on the copy stream, with the slot's last upload
        public CudaEvent? Free;                         // on the compute stream, after the last step that read the slot

        /// <summary>Blocks until the device is done with the slot: its last copies and the last step that read it.</summary>
        public void WaitIdle()
        {
            PixelsCopied?.Synchronize();
            LabelsCopied?.Synchronize();
            Free?.Synchronize();
        }

        public void DisposeBuffers()
        {
            PixelStaging?.Dispose();
            LabelStaging?.Dispose();
            Pixels?.Dispose();
            Labels?.Dispose();
            PixelsCopied?.Dispose();
            LabelsCopied?.Dispose();
            (PixelStaging, LabelStaging, Pixels, Labels, PixelsCopied, LabelsCopied) = (null, null, null, null, null, null);
        }
    }

    public void Upload(int slot, HostBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var s = _slots[slot];
        Allocate(s, batch);
        // Point 3: the host refills the staging buffers only after the previous copies from them are done.
        s.PixelsCopied?.Synchronize();
        s.LabelsCopied?.Synchronize();
        s.PixelsCopied?.Dispose();
        s.LabelsCopied?.Dispose();
        if (batch.Format == BatchFormat.Float32Nchw) batch.Pixels.CopyTo(s.PixelStaging!.AsSpan<float>());
        else batch.PixelBytes.CopyTo(s.PixelStaging!.AsSpan<byte>());
        batch.Labels.AsSpan(0, batch.Count).CopyTo(s.LabelStaging!.AsSpan<int>());
        // Point 2: both copies wait for the step that last read the slot; neither holds up the compute stream (point 4).
        using var pixels = FirstRows(s.Pixels!, batch.Count * batch.Views);
        using var labels = FirstRows(s.Labels!, batch.Count);
        s.PixelsCopied = cuda.UploadAsync(s.PixelStaging, 0, pixels, s.Free, computeWaits: false);
        s.LabelsCopied = cuda.UploadAsync(s.LabelStaging, 0, labels, s.Free, computeWaits: false);
    }

    public (Tensor X, Tensor Y) Take(int slot, HostBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var s = _slots[slot];
        if (s.PixelsCopied is null || s.LabelsCopied is null) throw new InvalidOperationException($"batch slot {slot} was never uploaded");
        // Point 1: everything the step queues from here on runs after the slot's copies.
        cuda.WaitForEvent(s.PixelsCopied);
        cuda.WaitForEvent(s.LabelsCopied);
        var pixels = FirstRows(s.Pixels!, batch.Count * batch.Views);   // a view, freed with the step's scope
        return (BatchInput.FromUploaded(batch, pixels), FirstRows(s.Labels!, batch.Count));   // x: (N, C, H, W) float32, y: (N) int32
    }

    public void Release(int slot)
    {
        var s = _slots[slot];
        s.Free ??= cuda.CreateEvent();
        s.Free.Record();   // after every kernel the step queued; the next upload into this slot waits for it
    }

    /// <summary>The slot's buffers for this batch's layout: allocated at the first batch, again only if the layout changes.</summary>
    private void Allocate(Slot s, HostBatch batch)
    {
        if (batch.IsDense) throw new InvalidOperationException("batch prefetch: dense batches hold images of different sizes; they are not uploaded ahead");
        int rows = batch.Labels.Length * batch.Views;
        var layout = (batch.Format, rows, batch.Channels, batch.Height, batch.Width, batch.Labels.Length);
        if (s.Pixels is not null && s.Layout == layout) return;
        s.WaitIdle();   // the old buffers may still be read or written
        s.DisposeBuffers();
        bool f32 = batch.Format == BatchFormat.Float32Nchw;
        int[] shape = f32 ? [rows, batch.Channels, batch.Height, batch.Width] : [rows, batch.Height, batch.Width, batch.Channels];
        var dtype = f32 ? DType.Float32 : DType.UInt8;
        s.Pixels = Tensor.Empty(shape, dtype, cuda.Device).MoveOutOfScope();
        s.Labels = Tensor.Empty([batch.Labels.Length], DType.Int32, cuda.Device).MoveOutOfScope();
        s.PixelStaging = cuda.AllocatePinned(Math.Max(1, s.Pixels.NumElements * dtype.Size()));
        s.LabelStaging = cuda.AllocatePinned(Math.Max(1, batch.Labels.Length * sizeof(int)));
        s.Layout = layout;
    }

    /// <summary>A view of the first <paramref name="rows"/> rows of a contiguous tensor (same storage).</summary>
    private static Tensor FirstRows(Tensor t, int rows)
    {
        int[] shape = t.Shape.ToArray();
        shape[0] = rows;
        return t.View(shape, Tensor.ContiguousStrides(shape), t.Offset);
    }

    /// <summary>Waits until the device is done with the slots, then frees them.</summary>
    public void Dispose()
    {
        foreach (var s in _slots)
        {
            s.WaitIdle();
            s.DisposeBuffers();
            s.Free?.Dispose();
            s.Free = null;
        }
    }
}
