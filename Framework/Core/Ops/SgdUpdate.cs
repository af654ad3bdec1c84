namespace Kiln.Core.Ops;

/// <summary>
/// The two momentum conventions. They give the same trajectory at a constant learning rate and
/// differ when it changes (Caffe's velocity already contains the old rate).
/// </summary>
public enum MomentumForm
{
    /// <summary>PyTorch: v = μv + (g + λw); w = w − η v (Nesterov: w = w − η (g + λw + μv)).</summary>
    PyTorch,
    /// <summary>Caffe / Krizhevsky et al. 2012: v = μv − η(g + λw); w = w + v (Nesterov: w = w + (1+μ)v − μ v_old).</summary>
    Caffe,
}

public partial interface IBackend
{
    /// <summary>
    /// One fused SGD step on a parameter w with gradient g and velocity v (null when μ = 0), in the
    /// given momentum form; lr and weightDecay already include the parameter's multipliers.
    /// </summary>
    void SgdUpdate(Tensor w, Tensor g, Tensor? v, double lr, double momentum, double weightDecay, bool nesterov, MomentumForm form);

    /// <summary>For w viewed as (K, rest): scales every row whose RMS exceeds maxRms back to maxRms.</summary>
    void RenormFilters(Tensor w, double maxRms);
}
