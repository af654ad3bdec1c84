namespace Kiln.Data;

/// <summary>One view to produce: a box in source-pixel coordinates (edges, not centres) resampled to the output, optionally mirrored.</summary>
public readonly record struct CropBox(double X, double Y, double Width, double Height, bool Flip)
{
    public double Right => X + Width;
    public double Bottom => Y + Height;
}
