namespace Kiln.Core.Autograd;

/// <summary>Whether ops record autograd history on this thread.</summary>
public static class GradMode
{
    [ThreadStatic] private static int t_disabledDepth;

    public static bool IsEnabled => t_disabledDepth == 0;

    /// <summary>Disables recording until the returned handle is disposed (evaluation, optimiser steps).</summary>
    public static NoGradScope NoGrad()
    {
        t_disabledDepth++;
        return new NoGradScope();
    }

    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => t_disabledDepth--;
    }
}
