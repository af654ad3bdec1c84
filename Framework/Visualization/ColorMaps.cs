namespace Kiln.Visualization;

/// <summary>Colour scales for maps.</summary>
public static class ColorMaps
{
    /// <summary>MATLAB's jet: 0 dark blue, 0.5 green-yellow, 1 dark red; channels in [0, 1].</summary>
    public static (float R, float G, float B) Jet(float v)
    {
        v = float.IsNaN(v) ? 0 : Math.Clamp(v, 0f, 1f);
        static float Ramp(float t) => Math.Clamp(1.5f - Math.Abs(4 * t), 0f, 1f);
        return (Ramp(v - 0.75f), Ramp(v - 0.5f), Ramp(v - 0.25f));
    }

    private static readonly (byte, byte, byte)[] Palette =
    [
        (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75), (227, 119, 194),
        (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (152, 223, 138), (255, 187, 120),
    ];

    /// <summary>A distinct colour per class index (cycling through 12; red is kept for the target class).</summary>
    public static (byte R, byte G, byte B) Category(int k) => Palette[(k % Palette.Length + Palette.Length) % Palette.Length];
}
