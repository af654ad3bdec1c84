using System.Globalization;
using System.Text;

namespace Kiln.Backends.Cuda;

/// <summary>
/// The text form of the convolution algorithm cache (Note [Convolution algorithm cache]), so a resumed run
/// can skip the search: a header naming the device and library versions the choices were made for, then one
/// line per entry, key fields then choice fields, space-separated. A file written for another GPU or cuDNN is
/// ignored as a whole (algorithms are only valid where they were measured).
/// </summary>
internal static class ConvAlgoCacheFile
{
    // v2: strict FP32 no longer picks Winograd (Note [Strict FP32 excludes Winograd]); a v1 file may hold such a
    // choice, so it is ignored like one from another GPU and the search runs again.
    private const string Magic = "# kiln conv algorithms v2";

    public static string Format(string deviceTag, IEnumerable<KeyValuePair<ConvAlgoKey, ConvAlgoChoice>> entries)
    {
        var sb = new StringBuilder();
        sb.Append(Magic).Append(" | ").Append(deviceTag).Append('\n');
        foreach (var (k, c) in entries.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal))
        {
            sb.AppendJoin(' ', (object[])[k.Pass, k.DType, k.N, k.C, k.H, k.W, k.K, k.R, k.S, k.PadH, k.PadW, k.StrideH, k.StrideW,
                k.DilationH, k.DilationW, k.Groups, k.AllowTf32 ? 1 : 0, k.Deterministic ? 1 : 0, k.WorkspaceBudgetBytes,
                c.Algo, c.MathType, c.WorkspaceBytes, c.Measured ? 1 : 0]);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The entries of <paramref name="text"/>, or none when it was written for another device tag. Throws on a malformed line, naming it.</summary>
    public static List<KeyValuePair<ConvAlgoKey, ConvAlgoChoice>> Parse(string text, string deviceTag, string source)
    {
        var result = new List<KeyValuePair<ConvAlgoKey, ConvAlgoChoice>>();
        var lines = text.Split('\n');
        if (lines.Length == 0 || lines[0].TrimEnd('\r') != $"{Magic} | {deviceTag}") return result;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            try
            {
                if (f.Length != 23) throw new FormatException($"expected 23 fields, got {f.Length}");
                int I(int j) => int.Parse(f[j], CultureInfo.InvariantCulture);
                var key = new ConvAlgoKey(Enum.Parse<ConvPass>(f[0]), Enum.Parse<DType>(f[1]), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11), I(12),
                    I(13), I(14), I(15), I(16) != 0, I(17) != 0, long.Parse(f[18], CultureInfo.InvariantCulture));
                var choice = new ConvAlgoChoice(I(19), I(20), long.Parse(f[21], CultureInfo.InvariantCulture), I(22) != 0);
                result.Add(new(key, choice));
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw new FormatException($"{source}:{i + 1}: not a convolution algorithm entry ({e.Message}): {line}", e);
            }
        }
        return result;
    }
}
