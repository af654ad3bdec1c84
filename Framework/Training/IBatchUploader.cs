using Kiln.Data;

namespace Kiln.Training;

/// <summary>
/// A device's half of double-buffered batch upload, driven by <see cref="BatchPrefetcher"/>: two slots, each holding one
/// batch on the device. The ordering each member must keep is in Note [Batch prefetch ordering].
/// </summary>
public interface IBatchUploader
{
    /// <summary>
    /// Starts copying <paramref name="batch"/>'s pixels and labels into slot <paramref name="slot"/> (0 or 1) and returns
    /// without waiting for the copy. The copy must not overwrite the slot before the device work queued up to the slot's
    /// last <see cref="Release"/> has finished. The host batch may be disposed as soon as this returns.
    /// </summary>
    void Upload(int slot, HostBatch batch);

    /// <summary>
    /// The slot's batch for the step that uses it: x (N·V, C, H, W) float32 (a uint8 batch normalised on the device) and
    /// labels y (N) int32. Work queued after this call sees the finished copy. Called inside the step's tensor scope: the
    /// returned tensors are the step's to dispose (views of the slot or results computed from it).
    /// </summary>
    (Tensor X, Tensor Y) Take(int slot, HostBatch batch);

    /// <summary>The step that took the slot has queued all its work on the device; once that work has finished, the slot may be overwritten.</summary>
    void Release(int slot);
}
