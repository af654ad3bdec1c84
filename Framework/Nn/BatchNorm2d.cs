namespace Kiln.Nn;

/// <summary>
/// Batch normalisation with running statistics, as torchvision names them (weight, bias,
/// running_mean, running_var, num_batches_tracked). Training mode normalises with the batch and
/// updates the running averages; evaluation mode uses the running averages.
/// </summary>
public sealed class BatchNorm2d : Module
{
    private long _batchesTracked = -1; // -1: not yet read from the buffer (which loading may have set)

    public BatchNorm2d(int channels, double eps = 1e-5, double momentum = 0.1, bool affine = true)
    {
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([channels]));
            Bias = RegisterParameter("bias", Tensor.Zeros([channels]));
        }
        RegisterBuffer("running_mean", Tensor.Zeros([channels]));
        RegisterBuffer("running_var", Tensor.Ones([channels]));
        RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Int64));
    }

    public double Eps { get; }
    /// <summary>Weight of the current batch in the running averages (PyTorch's convention: new = (1 − m)·old + m·batch).</summary>
    public double Momentum { get; set; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }
    public Tensor RunningMean => Buffer("running_mean");
    public Tensor RunningVar => Buffer("running_var");

    public override Tensor Forward(Tensor x) => Forward(x, relu: false);

    /// <summary>Batch norm, followed by a ReLU in the same op when <paramref name="relu"/> (Note [Batch norm with ReLU]).</summary>
    public Tensor Forward(Tensor x, bool relu)
    {
        if (IsTraining)
        {
            var counter = Buffer("num_batches_tracked");
            if (_batchesTracked < 0) _batchesTracked = (long)counter.Item();
            _batchesTracked++;
            Backend.Of(counter).Fill(counter, _batchesTracked);
        }
        return Op.BatchNorm2d(x, Weight?.Value, Bias?.Value, RunningMean, RunningVar, IsTraining, Momentum, Eps, relu);
    }

    /// <summary>Running mean 0 and variance 1, as at construction (PyTorch's reset_running_stats).</summary>
    public void ResetRunningStats()
    {
        Backend.Of(RunningMean).Fill(RunningMean, 0);
        Backend.Of(RunningVar).Fill(RunningVar, 1);
    }

    /// <summary>num_batches_tracked may have been overwritten: read it again at the next training step.</summary>
    protected override void OnStateLoaded() => _batchesTracked = -1;
}
