namespace Kiln.Visualization;

/// <summary>A box of input pixels, [X0, X1) x [Y0, Y1), already clipped to the image.</summary>
public readonly record struct PixelBox(int X0, int Y0, int X1, int Y1)
{
    public int Width => X1 - X0;
    public int Height => Y1 - Y0;
}
