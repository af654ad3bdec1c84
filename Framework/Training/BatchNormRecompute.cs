using Kiln.Core.Autograd;
using Kiln.Models;
using Kiln.Nn;

namespace Kiln.Training;

/// <summary>
/// Re-estimates every <see cref="BatchNorm2d"/>'s running mean and variance after training as the plain
/// average of the batch statistics over some training batches, instead of the exponential moving
/// average kept during training. He et al.'s released ResNets were made this way ("mean/var computed by
/// plain average over a large training batch after training"); PyTorch's swa_utils.update_bn does the
/// same with momentum = None. Batch t gets momentum 1/t, so after T batches the running mean is
/// (1/T)·Σ mean_t and the running variance (1/T)·Σ var_t (each batch's unbiased variance).
/// </summary>
public static class BatchNormRecompute
{
    /// <summary>
    /// Runs forward passes in training mode without gradients over <paramref name="batches"/> (x: (N, C, H, W) on
    /// the network's device). Restores each layer's momentum and the network's train/eval mode; returns how many
    /// batches were used (0 when the network has no batch norm, and then nothing runs).
    /// </summary>
    public static int Run(Module net, IEnumerable<Tensor> batches)
    {
        var layers = net.Modules().OfType<BatchNorm2d>().ToList();
        if (layers.Count == 0) return 0;
        var momenta = layers.Select(l => l.Momentum).ToArray();
        bool training = net.IsTraining;
        int t = 0;
        try
        {
            foreach (var l in layers) l.ResetRunningStats();
            net.Train();
            using var noGrad = GradMode.NoGrad();
            foreach (var x in batches)
            {
                t++;
                foreach (var l in layers) l.Momentum = 1.0 / t;
                using var scope = TensorScope.Begin();
                if (net is Network network) network.ForwardHeads(x);   // auxiliary heads have batch norms too
                else net.Forward(x);
            }
        }
        finally
        {
            for (int i = 0; i < layers.Count; i++) layers[i].Momentum = momenta[i];
            net.Train(training);
        }
        return t;
    }
}
