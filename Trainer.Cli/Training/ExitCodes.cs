namespace Kiln.Cli.Training;

/// <summary>The exit-code contract of <c>kiln train</c> (fault-scenarios §2.9); sweeps decide on retries from it.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int ConfigError = 2;
    public const int DataError = 3;
    public const int OutOfMemory = 4;
    public const int NonFinite = 5;
    public const int CheckpointError = 6;
    public const int DeviceError = 7;
    /// <summary>Stopped by SIGINT/SIGTERM after writing a checkpoint: rerun with --resume auto.</summary>
    public const int Preempted = 75;
    /// <summary>A second SIGINT: out at once, the last committed checkpoint stays valid.</summary>
    public const int Interrupted = 130;
}
