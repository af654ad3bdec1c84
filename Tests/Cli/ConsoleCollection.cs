namespace Kiln.Tests.Cli;

/// <summary>Console output is process-wide, so these run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}
