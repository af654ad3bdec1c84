namespace Kiln.Config;

/// <summary>
/// A place in a config file: the file's name (or zoo resource), a 1-based line and, where known
/// (YAML-level errors), a 1-based column; 0 means no column.
/// </summary>
public readonly record struct SourceLocation(string File, int Line, int Column = 0)
{
    public override string ToString() => Column > 0 ? $"{File}:{Line}:{Column}" : $"{File}:{Line}";
}
