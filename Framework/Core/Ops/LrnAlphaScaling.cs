namespace Kiln.Core.Ops;

/// <summary>
/// How the alpha of local response normalisation weighs the sum of squares in
/// b = a / (k + alpha' * Σ a²)^beta. The two conventions differ by a factor of the window size n,
/// so a config written for one silently changes meaning under the other; hence an explicit option.
/// </summary>
public enum LrnAlphaScaling
{
    /// <summary>
    /// alpha' = alpha / n: Caffe, PyTorch (<c>nn.LocalResponseNorm</c>) and cuDNN. The default, so
    /// Caffe prototxt and PyTorch values (alpha = 1e-4, beta = 0.75) carry over unchanged.
    /// </summary>
    DividedBySize,

    /// <summary>alpha' = alpha: the formula as written in Krizhevsky, Sutskever and Hinton (2012), section 3.3.</summary>
    AsWritten,
}
