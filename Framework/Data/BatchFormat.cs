namespace Kiln.Data;

/// <summary>
/// How a <see cref="DataLoader"/> lays out the pixels of its batches.
///
/// Note [Uint8 batches]: for a GPU, the loader can stop before normalisation and hand over uint8
/// (N·V, H, W, C) pixels, a quarter of the bytes to copy; <c>Op.NormalizeImages</c> (CUDA kernel
/// normalize_forward_u8_f32, CPU twin in CpuBackend.NormalizeImages) then makes the float32 (N·V, C, H, W)
/// input on the device, and <c>Kiln.Training.BatchInput</c> is the one call the trainer and evaluator use
/// for either format. The uint8 pass is the same fused resample as the float one (crop, resize, views,
/// antialiasing, the same random draws), and differs only in what it stores:
/// - each output value in pixel units (0–255), rounded to the nearest integer and clamped to [0, 255];
/// - channels already in output order (BGR for Caffe's normalisation; luma for one channel), so the
///   normalisation is a plain per-channel <c>(q · PixelRange/255 − mean[c]) / std[c]</c>;
/// - horizontal flips applied here on the CPU, as in the float pass: mirroring is only a permuted column
///   table in the resample, costs nothing, and covers ten-crop's and multi-scale's mirror views too; so the
///   kernel's per-image flip argument is not used for loader batches (it stays available and tested);
/// - colour jitter and PCA lighting folded into the pass before quantisation (the affine map of
///   <see cref="ColorJitter"/> and the lighting offset in pixel units). So nothing falls back to the float
///   path; the one difference is the clamp: a jittered or lit value outside [0, 255] is clamped, as
///   torchvision's ColorJitter and any PIL (uint8) pipeline clamp, where the float path keeps it.
/// Hence, per element, |uint8 path − float path| ≤ 0.5 · PixelRange/255 / std[c] (plus float rounding)
/// wherever the float path's value lies in the pixel range, which is every element without colour
/// augmentation (Tests/Training/BatchInputTests).
/// </summary>
public enum BatchFormat
{
    /// <summary>Normalised float32 (N·V, C, H, W), the network input itself: the CPU path.</summary>
    Float32Nchw,
    /// <summary>Resampled, not yet normalised uint8 (N·V, H, W, C): see Note [Uint8 batches].</summary>
    UInt8Nhwc,
}
