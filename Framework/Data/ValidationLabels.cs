using System.Globalization;

namespace Kiln.Data;

/// <summary>
/// Labels for a flat validation folder (ImageNet's 50,000 <c>ILSVRC2012_val_*.JPEG</c>), from either
/// <list type="bullet">
/// <item>Kaggle's <c>LOC_val_solution.csv</c>: <c>ImageId,PredictionString</c> rows whose prediction string
/// starts with the synset id (<c>n01751748 x0 y0 x1 y1 ...</c>), mapped through the sorted synset list; or</item>
/// <item>a "file label" text file (Caffe's <c>val.txt</c>: <c>ILSVRC2012_val_00000001.JPEG 65</c>), labels already
/// class indices in sorted-synset order; or</item>
/// <item>the devkit's <c>ILSVRC2012_validation_ground_truth.txt</c>: one ILSVRC2012_ID (1..1000) per line, line k for
/// <c>ILSVRC2012_val_0000000k</c>, with a synset map (<see cref="ReadSynsetMap"/>) from those ids to synsets.</item>
/// </list>
///
/// Note [ILSVRC ids]: the ground truth's ids are not class indices. They number the synsets as the devkit's
/// <c>data/meta.mat</c> does (id 1 is n02119789, kit fox), while a class index is the synset's place in sorted
/// order (n01440764, tench, is 0). Rather than parse MATLAB files we read that table as text, "ILSVRC2012_ID WNID"
/// per line (the <c>ILSVRC2012_mapping.txt</c> found beside many ImageNet copies; further words on a line are
/// ignored). From the devkit, as torchvision reads meta.mat (the 1000 classes are the synsets without children):
/// <code>
/// python3 -c "import scipy.io as io; [print(int(s[0]), s[1]) for s in io.loadmat('meta.mat', squeeze_me=True)['synsets'] if s[4] == 0]" > ILSVRC2012_mapping.txt
/// </code>
/// </summary>
public static class ValidationLabels
{
    /// <summary>
    /// (file, label) for every image in <paramref name="folder"/>, in file-name order; every image must have a label.
    /// With <paramref name="synsetMap"/>, <paramref name="labelsFile"/> is the devkit's ground truth (see Note [ILSVRC ids]).
    /// Throws <see cref="InvalidDataException"/> naming the file and line of the first bad line.
    /// </summary>
    public static List<(string Path, int Label)> Read(string folder, string labelsFile, IReadOnlyList<string> synsets, string? synsetMap = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"validation folder not found: {folder}");
        if (!File.Exists(labelsFile)) throw new FileNotFoundException($"validation labels file not found: {labelsFile}", labelsFile);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < synsets.Count; i++) index[synsets[i]] = i;
        var files = Directory.GetFiles(folder).Where(p => !p.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) && !p.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"no images in validation folder {folder}");
        if (synsetMap is not null) return GroundTruth(files, folder, labelsFile, ReadSynsetMap(synsetMap), synsetMap, index);

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
                if (parts.Length == 1 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: a bare ILSVRC id, as in ILSVRC2012_validation_ground_truth.txt: " +
                        "that file needs the devkit's id → synset map too (kiln pack val --synset-map ILSVRC2012_mapping.txt)");
                if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out label))
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: expected 'file label' or 'ImageId,synset ...', got '{line}'");
                if (label >= synsets.Count)
                    throw new InvalidDataException($"{labelsFile}:{lineNumber}: label {label} outside [0, {synsets.Count})");
                name = parts[0];
            }
            labels[Path.GetFileNameWithoutExtension(name)] = label;
        }

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

    /// <summary>
    /// The devkit's ILSVRC2012_ID → synset table from "ILSVRC2012_ID WNID [words ...]" lines (blank lines and '#'
    /// comments skipped), each with its line for messages. See Note [ILSVRC ids].
    /// </summary>
    public static Dictionary<int, (string Wnid, int Line)> ReadSynsetMap(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"synset map not found: {path}", path);
        var map = new Dictionary<int, (string, int)>();
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id < 1)
                throw new InvalidDataException($"{path}:{lineNumber}: expected 'ILSVRC2012_ID WNID' (e.g. '1 n02119789'), got '{line}'");
            if (map.TryGetValue(id, out var first))
                throw new InvalidDataException($"{path}:{lineNumber}: ILSVRC id {id} again (first at line {first.Item2})");
            map[id] = (parts[1], lineNumber);
        }
        if (map.Count == 0) throw new InvalidDataException($"{path}: no 'ILSVRC2012_ID WNID' lines");
        return map;
    }

    /// <summary>
    /// Labels from the devkit's ground truth: line k is the image numbered k (<c>ILSVRC2012_val_0000000k</c>), which is
    /// the k-th file in name order when the folder holds every image. A line count that differs from the image count,
    /// or an image whose number is not its place in that order, is refused: the labels would be shifted.
    /// </summary>
    private static List<(string Path, int Label)> GroundTruth(List<string> files, string folder, string truthFile,
        Dictionary<int, (string Wnid, int Line)> map, string mapFile, Dictionary<string, int> index)
    {
        var labels = new List<int>(files.Count);
        int lineNumber = 0, blank = 0;
        foreach (var raw in File.ReadLines(truthFile))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0) { blank = blank == 0 ? lineNumber : blank; continue; }
            if (blank != 0)
                throw new InvalidDataException($"{truthFile}:{blank}: blank line before line {lineNumber}: the ground truth has one ILSVRC id per image, in image order");
            if (!int.TryParse(line, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int id))
                throw new InvalidDataException($"{truthFile}:{lineNumber}: expected one ILSVRC id (an integer) per line, got '{line}'");
            if (!map.TryGetValue(id, out var synset))
                throw new InvalidDataException($"{truthFile}:{lineNumber}: ILSVRC id {id} is out of range: {mapFile} maps ids {map.Keys.Min()}..{map.Keys.Max()} ({map.Count} synsets)");
            if (!index.TryGetValue(synset.Wnid, out int label))
                throw new InvalidDataException($"{truthFile}:{lineNumber}: ILSVRC id {id} is {synset.Wnid} ({mapFile}:{synset.Line}), which is not one of the {index.Count} classes");
            labels.Add(label);
        }
        if (labels.Count != files.Count)
            throw new InvalidDataException($"{truthFile} has {labels.Count} labels but {folder} has {files.Count} images: " +
                "the ground truth gives one label per validation image, line k for image k, so the folder must hold every image and nothing else");
        var result = new List<(string, int)>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            string name = Path.GetFileNameWithoutExtension(files[i]);
            int underscore = name.LastIndexOf('_');
            if (underscore >= 0 && int.TryParse(name.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number != i + 1)
                throw new InvalidDataException($"{Path.GetFileName(files[i])} is image {i + 1} in file-name order but its name says {number}: " +
                    $"line {i + 1} of {truthFile} would label the wrong image (is an image missing?)");
            result.Add((files[i], labels[i]));
        }
        return result;
    }
}
