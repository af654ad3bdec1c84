namespace Kiln.Training;

/// <summary>A checkpoint found on disk and whether it verified (<see cref="Problem"/> says why not).</summary>
public sealed record CheckpointInfo(string Path, long Step, CheckpointState? State, string? Problem)
{
    public bool IsValid => Problem is null;
}
