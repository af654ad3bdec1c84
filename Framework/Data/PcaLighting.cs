namespace Kiln.Data;

/// <summary>
/// AlexNet's colour augmentation: add <c>Σ_i eigvec[c][i] · α_i · eigval_i</c> to every pixel of
/// channel c (RGB in [0, 1]), α_i ~ N(0, σ²) drawn once per image (σ = 0.1 in the paper). The basis is
/// ImageNet's RGB covariance as published with fb.resnet.torch (see shared/reference/recipes.md).
/// </summary>
public static class PcaLighting
{
    /// <summary>Eigenvalues of ImageNet's RGB covariance.</summary>
    public static ReadOnlySpan<float> EigenValues => [0.2175f, 0.0188f, 0.0045f];

    /// <summary>Eigenvectors as columns: row c is channel c (R, G, B), column i is component i.</summary>
    public static ReadOnlySpan<float> EigenVectors =>
    [
        -0.5675f, 0.7192f, 0.4009f,
        -0.5808f, -0.0045f, -0.8140f,
        -0.5836f, -0.6948f, 0.4203f,
    ];

    /// <summary>The RGB offset for coefficients α (in [0, 1] pixel units).</summary>
    public static void Offset(double a0, double a1, double a2, Span<float> rgb)
    {
        var v = EigenVectors;
        var e = EigenValues;
        for (int c = 0; c < 3; c++)
            rgb[c] = (float)(v[3 * c] * a0 * e[0] + v[3 * c + 1] * a1 * e[1] + v[3 * c + 2] * a2 * e[2]);
    }

    /// <summary>Draws α ~ N(0, σ²) from the sample's random source and returns the RGB offset.</summary>
    public static void Sample(ref SampleRandom random, double sigma, Span<float> rgb)
    {
        double a0 = sigma * random.NextNormal(), a1 = sigma * random.NextNormal(), a2 = sigma * random.NextNormal();
        Offset(a0, a1, a2, rgb);
    }
}
