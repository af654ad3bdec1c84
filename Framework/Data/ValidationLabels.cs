using System.Globalization;

namespace Kiln.Data;

/// <summary>
/// Labels for a flat validation folder (ImageNet's 50,000 <c>ILSVRC2012_val_*.JPEG</c>), from either
/// <list type="bullet">
/// <item>Kaggle's <c>LOC_val_solution.csv</c>: <c>ImageId,PredictionString</c> rows whose prediction string
/// starts with the synset id (<c>n01751748 x0 y0 x1 y1 ...</c>), mapped through the sorted synset list; or</item>
/// <item>a "file label" text file (Caffe's <c>val.txt</c>: <c>ILSVRC2012_val_00000001.JPEG 65</c>), labels already
/// class indices in sorted-synset order.</item>
/// </list>
/// The official <c>ILSVRC2012_validation_ground_truth.txt</c> holds ILSVRC ids in another order (their
/// mapping lives in the devkit's meta.mat) and is not read here.
/// </summary>
public static class ValidationLabels
{
    /// <summary>(file, label) for every image in <paramref name="folder"/>, in file-name order; every image must have a label.</summary>
    public static List<(string Path, int Label)> Read(string folder, string labelsFile, IReadOnlyList<string> synsets)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"validation folder not found: {folder}");
        if (!File.Exists(labelsFile)) throw new FileNotFoundException($"validation labels file not found: {labelsFile}", labelsFile);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < synsets.Count; i++) index[synsets[i]] = i;

        var labels = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase); // by file name without extension
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(labelsFile))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("ImageId,", StringComparison.Ordinal)) continue;
            string name;
            int label;
            int comma = line.IndexOf(',');
            if (comma > 0)
            {
                name = line[..comma];
                string synset = line[(comma + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
                if (!index.TryGetValue(synset, out label))
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: synset '{synset}' is not one of the {synsets.Count} classes");
            }
            else
            {
                var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out label))
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: expected 'file label' or 'ImageId,synset ...', got '{line}'");
                if (label >= synsets.Count)
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: label {label} outside [0, {synsets.Count})");
                name = parts[0];
            }
            labels[Path.GetFileNameWithoutExtension(name)] = label;
        }

        var files = Directory.GetFiles(folder).Where(p => !p.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) && !p.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"no images in validation folder {folder}");
        var result = new List<(string, int)>(files.Count);
        var missing = new List<string>();
        foreach (var file in files)
        {
            if (labels.TryGetValue(Path.GetFileNameWithoutExtension(file), out int label)) result.Add((file, label));
            else missing.Add(Path.GetFileName(file));
        }
        if (missing.Count > 0)
            throw new InvalidDataException($"{missing.Count} images in {folder} have no label in {labelsFile}, e.g. {string.Join(", ", missing.Take(3))}");
        return result;
    }
}
