namespace Kiln.Data;

/// <summary>The geometric recipe; see <see cref="Geometry"/> for what each does.</summary>
public enum CropMode
{
    /// <summary>Inception/torchvision: a random box of 8–100% of the area and aspect 3/4–4/3, resized to the output.</summary>
    RandomResizedCrop,
    /// <summary>VGG/ResNet: shorter side uniform in [ShorterMin, ShorterMax], then a random output-sized crop.</summary>
    ScaleJitter,
    /// <summary>AlexNet/Caffe: warp to Resize × Resize, then a random output-sized crop (224 or 227).</summary>
    ResizeRandomCrop,
    /// <summary>
    /// CIFAR (He et al. 2016, §4.2; torchvision's RandomCrop(32, padding=4)): the image warped to the output size (a
    /// no-op for 32×32 images), zero-padded by Pad pixels on each side, then a random output-sized crop.
    /// </summary>
    PadRandomCrop,
    /// <summary>Evaluation: shorter side to Resize, centre output-sized crop.</summary>
    CenterCrop,
    /// <summary>Evaluation: shorter side to Resize; four corners and centre, then their mirror images (10 views).</summary>
    TenCrop,
    /// <summary>Evaluation (AlexNet/Caffe): warp to Resize × Resize, centre output-sized crop.</summary>
    ResizeCenterCrop,
    /// <summary>The whole image resized to the output (MNIST).</summary>
    Full,
    /// <summary>Evaluation (VGG, ResNet): at each shorter side Q of Scales, the centre output-sized crop and its mirror image (2 views per scale).</summary>
    MultiScale,
    /// <summary>
    /// Evaluation (VGG dense, ResNet fully convolutional): at each shorter side Q of Scales, the whole image (longer side
    /// in proportion, at most DenseMaxAspect·Q) and its mirror image; views are not square and differ between images.
    /// </summary>
    Dense,
}
