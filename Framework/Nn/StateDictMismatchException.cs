namespace Kiln.Nn;

/// <summary>
/// A strict load found tensors that are missing, unexpected or of the wrong shape or dtype. The
/// message lists every one of them; nothing was loaded.
/// </summary>
public sealed class StateDictMismatchException : InvalidOperationException
{
    public StateDictMismatchException(string source, string model, LoadReport report)
        : base($"{source} does not match {model} (missing {report.Missing.Count}, unexpected {report.Unexpected.Count}, " +
               $"mismatched {report.Mismatched.Count}); nothing was loaded. Load non-strict to take the tensors that match." +
               Environment.NewLine + report.Problems())
    {
        Report = report;
    }

    public LoadReport Report { get; }
}
