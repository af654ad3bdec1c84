namespace Kiln.Visualization;

/// <summary>
/// Note [Plot fonts]. The SkiaSharp native build we ship (NativeAssets.Linux.NoDependencies) has no
/// fontconfig, so family names resolve to an empty typeface and ScottPlot draws no text at all. We
/// therefore register a font file with ScottPlot: $KILN_FONT if set, else the first of a few common
/// sans-serif files. With none found, plots are drawn without text.
/// </summary>
internal static class PlotFonts
{
    private const string Family = "Kiln Sans";
    private static readonly Lazy<string?> s_family = new(Register);

    private static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
        @"C:\Windows\Fonts\arial.ttf",
    ];

    /// <summary>The registered family name, or null when no font file was found.</summary>
    public static string? FamilyName => s_family.Value;

    private static string? Register()
    {
        string? env = Environment.GetEnvironmentVariable("KILN_FONT");
        var file = (env is { Length: > 0 } && File.Exists(env) ? env : null) ?? Candidates.FirstOrDefault(File.Exists) ?? FindAny();
        if (file is null) return null;
        ScottPlot.Fonts.AddFontFile(Family, file);
        ScottPlot.Fonts.Default = Family;
        return Family;
    }

    private static string? FindAny()
    {
        foreach (var dir in new[] { "/usr/share/fonts", "/usr/local/share/fonts" })
        {
            if (!Directory.Exists(dir)) continue;
            var f = Directory.EnumerateFiles(dir, "*.ttf", SearchOption.AllDirectories).FirstOrDefault();
            if (f is not null) return f;
        }
        return null;
    }
}
