namespace Kiln.Serialization;

/// <summary>
/// A safetensors file is malformed, damaged or hostile, or holds something Kiln cannot load.
/// The message names the file, the tensor (where one is involved) and what is wrong. An
/// <see cref="IOException"/> (<see cref="InvalidDataException"/> is sealed), so I/O-level handlers catch it.
/// </summary>
public sealed class SafetensorsFormatException : IOException
{
    public SafetensorsFormatException(string file, string? tensor, string problem, Exception? inner = null)
        : base(Format(file, tensor, problem), inner)
    {
        File = file;
        Tensor = tensor;
        Problem = problem;
    }

    /// <summary>The file (or stream name) that was being read.</summary>
    public string File { get; }

    /// <summary>The tensor concerned, or null for problems of the file as a whole.</summary>
    public string? Tensor { get; }

    /// <summary>What is wrong, without the file and tensor names.</summary>
    public string Problem { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
