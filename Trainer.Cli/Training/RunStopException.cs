namespace Kiln.Cli.Training;

/// <summary>A run stopped on purpose with an exit code and a one-line reason.</summary>
public sealed class RunStopException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
