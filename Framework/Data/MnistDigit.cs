namespace Kiln.Data;

/// <summary>One 28×28 grey MNIST digit (row-major, 0 = background, 255 = ink).</summary>
public sealed record MnistDigit(int Label, int IndexInClass, byte[] Pixels)
{
    public const int Size = 28;
}
