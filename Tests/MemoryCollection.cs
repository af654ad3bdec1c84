namespace Kiln.Tests;

/// <summary>
/// Tests that read the process-wide allocator counters run alone, so no other test allocates meanwhile.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "allocator counters";
}
