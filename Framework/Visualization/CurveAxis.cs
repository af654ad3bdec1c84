namespace Kiln.Visualization;

/// <summary>The x axis of training curves.</summary>
public enum CurveAxis
{
    /// <summary>Epochs (the <c>epoch</c> column; falls back to images, then steps).</summary>
    Epochs,
    /// <summary>Images seen (the <c>images</c> column; falls back to steps).</summary>
    Images,
    Steps,
}
