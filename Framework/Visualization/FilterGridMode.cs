namespace Kiln.Visualization;

/// <summary>How <see cref="FilterGrid"/> shows filters (K, C, R, S).</summary>
public enum FilterGridMode
{
    /// <summary>RGB when the filters have 3 input channels (first layers), else <see cref="Mean"/>.</summary>
    Auto,
    /// <summary>Each filter as a colour picture of its 3 input channels (AlexNet and ZF figures).</summary>
    Rgb,
    /// <summary>Each filter as a grey picture of the mean over its input channels.</summary>
    Mean,
    /// <summary>One row per filter, one grey cell per input channel (capped by <see cref="FilterGridOptions.MaxChannels"/>).</summary>
    PerChannel,
}
