using Kiln.Data;

namespace Kiln.Training;

// Note [Batch prefetch ordering]
// Double buffering of batches between host and device (llm.c's pinned double buffer; STYLE §6). Two slots,
// batch i in slot i % 2. The prefetcher issues, on the host, in this order:
//
//     Upload(0, b0)  Upload(1, b1)  yield b0 | Release(0)  Upload(0, b2)  yield b1 | Release(1)  Upload(1, b3) ...
//
// where "yield bi" is step i: the trainer calls Take(slot), queues the forward and backward, and comes back.
// On a GPU (CudaBatchUploader in the CLI) an upload runs on the copy stream and a step on the compute stream:
//  1. A step sees its whole batch: Take makes the compute stream wait for the slot's copy events, so every
//     kernel of step i is ordered after the copy of bi, however far the host has run ahead.
//  2. An upload never overwrites a batch still in use: Release(s) records an event on the compute stream after
//     the last kernel step i queued (x is read again by the backward of the first convolution, so the event
//     goes after the backward), and the next upload into s, of b(i+2), makes the copy stream wait for that event.
//  3. The host never refills a staging buffer that is still being copied from: before writing slot s's pinned
//     buffer, Upload waits on the host for the copy events of the previous upload from it (b(i-2)'s; long done,
//     since step i-2 waited for them and the host has since read a loss).
//  4. The overlap: b(i+1) is issued before step i is queued, and its copy waits only for step i-1's release, so
//     it runs while step i computes. Step i's kernels do not wait for it (the copy is not made a dependency of
//     the compute stream until step i+1's Take).
// Slot tensors live as long as the uploader, so nothing is freed while a copy is in flight. A batch pulled
// ahead but never handed out (the run stopped) is disposed, so the loader's position and pool are unaffected:
// positions come from handed-out batches only. On the CPU there is nothing to overlap; the trainer does not
// use the prefetcher there.

/// <summary>
/// Hands out the batches of a loader with the next one already uploading to the device (see Note [Batch prefetch
/// ordering]); the device side is an <see cref="IBatchUploader"/>. Each item is a host batch (keys, labels, position;
/// the caller disposes it) and the slot whose tensors <see cref="IBatchUploader.Take"/> gives the step.
/// </summary>
public sealed class BatchPrefetcher(IBatchUploader uploader)
{
    /// <summary>The device half, for <see cref="IBatchUploader.Take"/> in the step.</summary>
    public IBatchUploader Uploader { get; } = uploader ?? throw new ArgumentNullException(nameof(uploader));

    /// <summary>
    /// The batches of <paramref name="source"/> in order, each with its slot. When the caller asks for the next item,
    /// the previous one is released (its step is queued) and the one after next starts uploading.
    /// </summary>
    public IEnumerable<(HostBatch Batch, int Slot)> Run(IEnumerable<HostBatch> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var e = source.GetEnumerator();
        if (!e.MoveNext()) yield break;
        HostBatch current = e.Current;
        HostBatch? next = null;
        int slot = 0;
        bool ownCurrent = true;    // current is pulled but not yet handed out: ours to dispose on failure
        bool handedOut = false;    // current is the caller's and its slot is not yet released
        try
        {
            Uploader.Upload(slot, current);
            while (true)
            {
                next = e.MoveNext() ? e.Current : null;
                if (next is not null) Uploader.Upload(1 - slot, next);   // overlaps the step below (point 4)
                (ownCurrent, handedOut) = (false, true);
                yield return (current, slot);
                handedOut = false;
                Uploader.Release(slot);                                    // the step is queued (point 2)
                if (next is null) yield break;
                (current, next, slot, ownCurrent) = (next, null, 1 - slot, true);
            }
        }
        finally
        {
            if (handedOut) Uploader.Release(slot);   // the caller stopped after (or during) this step
            if (ownCurrent) current.Dispose();
            next?.Dispose();                         // pulled ahead, never handed out
        }
    }
}
