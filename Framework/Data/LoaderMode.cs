namespace Kiln.Data;

/// <summary>Training shuffles and augments; evaluation reads every sample once, in order.</summary>
public enum LoaderMode
{
    Train,
    Eval,
}
