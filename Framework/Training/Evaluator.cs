using Kiln.Core.Autograd;
using Kiln.Data;

namespace Kiln.Training;

/// <summary>
/// Top-1/top-5 evaluation as the papers do it: for each image, the softmax outputs of every view
/// (ten-crop: 10) and every model of an ensemble are averaged, and the average is ranked. Images are
/// counted exactly once whatever the batch size: a short last batch counts its <c>Count</c> images only.
/// Ties rank the lower class index first, so counts are deterministic.
/// </summary>
public sealed class Evaluator
{
    private readonly int _classes;
    private readonly long[] _total, _correct;
    private readonly long[,] _confusion;
    private long _count, _top1, _top5;
    private double _lossSum;
    private double[] _avg = [];

    public Evaluator(int numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"need at least one class, got {numClasses}");
        _classes = numClasses;
        _total = new long[numClasses];
        _correct = new long[numClasses];
        _confusion = new long[numClasses, numClasses];
    }

    /// <summary>
    /// Runs every model on the batch (in evaluation mode, without gradients) and counts it.
    /// Each model maps (N·V, C, H, W) pixels to logits (N·V, classes); for a dense batch it is given each image's
    /// views at one scale, (2, C, h, w), and must give (2, classes) (<c>Network.ForwardDense</c>). Pixels reach the
    /// device through <see cref="BatchInput"/> (a uint8 batch is normalised there).
    /// </summary>
    public void Add(HostBatch batch, IReadOnlyList<Func<Tensor, Tensor>> models, Device device)
    {
        int n = batch.Count, v = batch.Views;
        if (n == 0) return;
        if (_avg.Length < n * _classes) _avg = new double[n * _classes];
        var avg = _avg.AsSpan(0, n * _classes);
        avg.Clear();
        using (GradMode.NoGrad())
        {
            if (batch.IsDense)
            {
                // Images differ in size: per image and scale, one forward of (2, C, h, w), the image and its mirror image.
                for (int i = 0; i < n; i++)
                    foreach (var (offset, shape) in batch.DenseViews(i))
                    {
                        using var scope = TensorScope.Begin();
                        Forward(BatchInput.DenseView(batch, offset, shape, device), models, 1, 2, avg.Slice(i * _classes, _classes));
                    }
            }
            else
            {
                using var scope = TensorScope.Begin();
                Forward(BatchInput.ToDevice(batch, device), models, n, v, avg);
            }
        }
        double scale = 1.0 / (v * models.Count);
        for (int i = 0; i < avg.Length; i++) avg[i] *= scale;
        AddProbabilities(avg, batch.Labels.AsSpan(0, n));
    }

    /// <summary>Adds to <paramref name="avg"/> (n, classes) the softmax of every model's logits (n·views, classes) for input <paramref name="x"/>.</summary>
    private void Forward(Tensor x, IReadOnlyList<Func<Tensor, Tensor>> models, int n, int views, Span<double> avg)
    {
        foreach (var model in models)
        {
            var logits = model(x);
            if (logits.Rank != 2 || logits.Size(0) != n * views || logits.Size(1) != _classes)
                throw new InvalidOperationException($"evaluation: model gave logits {logits.ShapeString()} for input {x.ShapeString()}, expected ({n * views}, {_classes})");
            using var l64 = logits.To(DType.Float64);
            var host = l64.ToArray<double>();
            AccumulateSoftmax(host, n, views, avg);
        }
    }

    /// <summary>Counts rows of averaged probabilities (N, classes) against their labels.</summary>
    public void AddProbabilities(ReadOnlySpan<double> probs, ReadOnlySpan<int> labels)
    {
        int n = labels.Length;
        if (probs.Length != n * _classes) throw new ArgumentException($"probabilities of {probs.Length} values for {n} labels of {_classes} classes");
        for (int i = 0; i < n; i++)
        {
            var row = probs.Slice(i * _classes, _classes);
            int label = labels[i];
            if ((uint)label >= (uint)_classes) throw new ArgumentException($"label {label} outside [0, {_classes})");
            double target = row[label];
            int better = 0, argmax = 0;
            for (int j = 0; j < _classes; j++)
            {
                if (row[j] > target || (row[j] == target && j < label)) better++;
                if (row[j] > row[argmax]) argmax = j;
            }
            _count++;
            _total[label]++;
            if (better < 1) { _top1++; _correct[label]++; }
            if (better < Math.Min(5, _classes)) _top5++;
            _confusion[label, argmax]++;
            _lossSum -= Math.Log(Math.Max(target, 1e-300));
        }
    }

    public EvalResult Result() => new(_count, _top1, _top5, _lossSum, (long[])_total.Clone(), (long[])_correct.Clone(), (long[,])_confusion.Clone());

    private void AccumulateSoftmax(double[] logits, int n, int views, Span<double> avg)
    {
        int k = _classes;
        for (int i = 0; i < n; i++)
            for (int v = 0; v < views; v++)
            {
                // Views of sample i are rows i·V .. i·V + V − 1 (the loader's layout).
                var row = logits.AsSpan((i * views + v) * k, k);
                double max = double.NegativeInfinity;
                foreach (double x in row) max = Math.Max(max, x);
                double sum = 0;
                foreach (double x in row) sum += Math.Exp(x - max);
                for (int j = 0; j < k; j++) avg[i * k + j] += Math.Exp(row[j] - max) / sum;
            }
    }
}
