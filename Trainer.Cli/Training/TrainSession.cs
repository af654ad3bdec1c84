using System.Diagnostics;
using System.Runtime.InteropServices;
using Kiln.Config;
using Kiln.Core;
using Kiln.Core.Autograd;
using Kiln.Core.Ops;
using Kiln.Data;
using Kiln.Models;
using Kiln.Nn;
using Kiln.Serialization;
using Kiln.Training;

namespace Kiln.Cli.Training;

/// <summary>
/// One <c>kiln train</c> run: builds everything from the resolved config, restores a checkpoint when
/// resuming, then runs the loop. The step (see <see cref="RunStep"/>) reads top to bottom:
/// forward every head, weighted loss, backward (iter_size times), check the loss and gradients,
/// clip, update, log. Everything that decides the next step's numbers (weights, momentum, schedule,
/// the global random generator that dropout draws from, the loader position) is in the checkpoint,
/// so a resumed run continues bit for bit on the CPU.
/// </summary>
public sealed class TrainSession : IDisposable
{
    private readonly RunConfig _config;
    private readonly string _runDir;
    private readonly RunLog _log;
    private readonly FaultInjection _faults;
    private readonly Network _net;
    private readonly Device _device;
    private readonly double[] _headWeights;
    private readonly DataLoader _train;
    private readonly DataLoader? _val;
    private readonly Sgd _sgd;
    private readonly LrSchedule _schedule;
    private readonly CheckpointStore _store;
    private readonly long _stepsPerEpoch, _totalSteps;
    private readonly string _configYaml, _configHash;
    private readonly List<(string Name, Parameter P)> _params;
    private long _checkpointBytes;
    /// <summary>Polyak/EMA copies of the parameters (training.ema_decay), by parameter index; empty when off.</summary>
    private readonly Tensor?[] _ema;
    private readonly Kiln.Backends.Cuda.CudaBackend? _cuda;
    /// <summary>On CUDA (training.cuda.prefetch): the next batch uploads while a step runs (Note [Batch prefetch ordering]); null otherwise.</summary>
    private readonly CudaBatchUploader? _uploader;
    private readonly BatchPrefetcher? _prefetch;
    private readonly HashSet<string> _convAlgosLogged = new(StringComparer.Ordinal);
    private bool _bnRecomputed;
    /// <summary>N of the last micro-batch: the batch the per-layer algorithm log describes.</summary>
    private int _batchRows;

    // Resumable state (all of it goes into state.json or the tensor files).
    private long _step;
    private LoaderPosition _position;
    private double? _bestMetric;
    private long? _bestStep;
    private long _skipped, _imagesSeen;
    private int _consecutiveSkips;
    private long _lastEvalStep = -1, _lastCheckpointStep = -1, _imagesAtStart;

    private volatile int _signals;
    private double _lastTrainLoss = double.NaN;
    private string _stepKeys = "";

    public TrainSession(RunConfig config, string runDir, RunLog log, FaultInjection faults, CheckpointInfo? resumeFrom, bool allowConfigChange)
    {
        _config = config;
        _runDir = runDir;
        _log = log;
        _faults = faults;
        _configYaml = ConfigWriter.ToYaml(config);
        _configHash = RunConfigLoader.Hash(config);
        _device = Device.Parse(config.Training.Device);
        if (config.Training.Threads is int threads) Kiln.Backends.Cpu.CpuParallel.Threads = threads;

        RandomGenerator.Global.ManualSeed(config.Training.Seed);
        _net = RunBuilder.BuildModel(config);
        _headWeights = RunBuilder.HeadWeights(_net, config);
        int channels = _net.Plan.InputShape[0];
        _log.Info("model {Name}: {Params:N0} parameters, {Heads} head(s) with loss weights [{Weights}], input {Input}",
            _net.Plan.Name, _net.ParameterCount, _headWeights.Length, string.Join(", ", _headWeights), string.Join("x", _net.Plan.InputShape));

        _train = new DataLoader(RunBuilder.TrainLoader(config, channels, Path.Combine(runDir, "bad-samples.tsv"), OnDataEvent));
        _val = config.Data.Val is { } val ? new DataLoader(RunBuilder.EvalLoader(config, val, channels, config.Training.EvalProtocol, onEvent: OnDataEvent)) : null;
        long samples = Directory.Exists(config.Data.Train)
            ? Directory.EnumerateFiles(config.Data.Train, "*", SearchOption.AllDirectories).LongCount()
            : ShardIndex.CountSamples(_train.Shards);
        long batches = samples / config.Data.BatchSize;
        if (batches < config.Optimizer.IterSize)
            throw new RunStopException(ExitCodes.DataError, $"data: '{config.Data.Train}' resolves to {_train.Shards.Count} shard(s) with {samples} samples: " +
                $"fewer than one step of batch_size {config.Data.BatchSize} × iter_size {config.Optimizer.IterSize}");
        _stepsPerEpoch = batches / config.Optimizer.IterSize;
        _totalSteps = config.Training.Iterations ?? (long)config.Training.Epochs!.Value * _stepsPerEpoch;
        _log.Info("data: {Shards} train shard(s), {Samples} samples, {Steps} steps per epoch of {Batch}×{Iter} images; {Total} steps in all; validation {Val}",
            _train.Shards.Count, samples, _stepsPerEpoch, config.Data.BatchSize, config.Optimizer.IterSize, _totalSteps, config.Data.Val ?? "none");
        _log.Info(_train.Options.Format == BatchFormat.UInt8Nhwc
            ? "data: batches as uint8 NHWC, normalised on {Device} (data.gpu_normalize {GpuNormalize})"
            : "data: batches as float32 NCHW, normalised on the CPU (training.device {Device}, data.gpu_normalize {GpuNormalize})",
            _device, config.Data.GpuNormalize);

        _params = _net.NamedParameters().ToList();
        _ema = new Tensor?[config.Training.EmaDecay is null ? 0 : _params.Count];
        _sgd = new Sgd(RunBuilder.Groups(_net, config.Optimizer), RunBuilder.SgdOptions(config.Optimizer));
        foreach (var g in _sgd.Groups.Where(g => g.Name != "default"))
            _log.Info("param group {Match}: {Count} tensors, lr x{Lr}, decay x{Decay}", g.Name, g.Parameters.Count, g.LrMultiplier, g.DecayMultiplier);
        _schedule = new LrSchedule(config.Schedule, config.Optimizer.Lr, _stepsPerEpoch, _totalSteps);
        _store = new CheckpointStore(Path.Combine(runDir, "checkpoints"));
        if (_faults.KillAfterCheckpointBytes is long budget)
            _store.WrapStream = s => new FaultInjection.KillingStream(s, n => (_checkpointBytes += n) >= budget);
        int cleaned = _store.CleanTemporaries();
        if (cleaned > 0) _log.Warn("removed {Count} temporary file(s) left by an interrupted checkpoint write in {Dir}", cleaned, _store.Directory);
        Preflight();

        _position = LoaderPosition.Start(0);
        if (resumeFrom is not null) Restore(resumeFrom, allowConfigChange);
        if (!_device.Equals(Device.Cpu)) _net.To(_device);
        _cuda = Backend.For(_device) as Kiln.Backends.Cuda.CudaBackend;
        if (_cuda is not null) ConfigureCuda(_cuda);
        if (_cuda is not null && config.Training.Cuda.Prefetch)
        {
            _uploader = new CudaBatchUploader(_cuda);
            _prefetch = new BatchPrefetcher(_uploader);
        }
    }

    private string ConvAlgoFile => Path.Combine(_runDir, CudaRunFiles.AlgorithmsFile);
    private string ConvLayersFile => Path.Combine(_runDir, CudaRunFiles.LayersFile);

    /// <summary>Applies training.cuda and reuses the run's cuDNN algorithm choices (same GPU model and cuDNN only), so a resumed run skips the search.</summary>
    private void ConfigureCuda(Kiln.Backends.Cuda.CudaBackend cuda)
    {
        var c = _config.Training.Cuda;
        CudaRunFiles.Configure(cuda, c);
        _log.Info("{Device}: {Name}; TF32 {Tf32}, deterministic {Deterministic}, cuDNN {Search}, workspace up to {Mib} MiB per convolution; batch prefetch {Prefetch}",
            _device, cuda.Info.Name, c.Tf32 ? "on" : "off", c.Deterministic ? "on" : "off", c.Benchmark ? "timed search" : "heuristic", c.WorkspaceMib,
            c.Prefetch ? "on" : "off");
        try
        {
            int reused = cuda.LoadConvAlgorithms(ConvAlgoFile);
            if (reused > 0) _log.Info("reused {Count} cuDNN algorithm choice(s) from {File}", reused, ConvAlgoFile);
            _convAlgosLogged.UnionWith(cuda.DescribeConvAlgorithms());
        }
        catch (FormatException e)
        {
            _log.Warn("ignoring {File}: {Message}; the algorithms will be searched again", ConvAlgoFile, e.Message);
        }
    }

    /// <summary>Logs the cuDNN algorithms chosen since the last call and saves them all in the run directory.</summary>
    private void SaveConvAlgorithms()
    {
        if (_cuda is null) return;
        var fresh = _cuda.DescribeConvAlgorithms().Where(_convAlgosLogged.Add).ToList();
        if (fresh.Count == 0) return;
        _log.Info("cuDNN chose {Count} new convolution algorithm(s) (all {Total} saved to {File}):", fresh.Count, _convAlgosLogged.Count, ConvAlgoFile);
        foreach (var line in fresh) _log.Info("  {Algorithm}", line);
        _cuda.SaveConvAlgorithms(ConvAlgoFile);
    }

    /// <summary>
    /// After this session's first step, when every pass of every layer has run: one line per convolution layer with the
    /// algorithms cuDNN runs it with, and the same as a table in the run directory (Note [Per-layer algorithm log]).
    /// </summary>
    private void LogConvLayers()
    {
        if (_cuda is null || _batchRows == 0) return;
        var layers = _net.ConvLayers(_batchRows);
        if (layers.Count == 0) return;
        var rows = _cuda.ConvAlgorithmsByLayer(layers.Select(l => (l.Name, l.Input, l.Weight, l.Geometry)), DType.Float32);
        _log.Info("cuDNN algorithms of the {Count} convolution layer(s) (also in {File}):", rows.Count, ConvLayersFile);
        foreach (var row in rows) _log.Info("  {Layer}", row.ToString());
        byte[] text = System.Text.Encoding.UTF8.GetBytes(Kiln.Backends.Cuda.ConvLayerAlgorithms.FormatTable(_cuda.ConvAlgoDeviceTag(), rows));
        AtomicFile.Write(ConvLayersFile, s => s.Write(text));
    }

    /// <summary>Runs to the end (or to a signal); returns the exit code.</summary>
    public int Run()
    {
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        int? epochs = _config.Training.Epochs;
        bool byEpoch = epochs is not null;
        var clock = Stopwatch.StartNew();
        long startStep = _step;
        _imagesAtStart = _imagesSeen;
        _net.Train();
        while (byEpoch ? _position.Epoch < epochs : _step < _totalSteps)
        {
            int epoch = _position.Epoch;
            bool epochDone = true;
            int micro = 0;
            double lossSum = 0;
            var headSums = new double[_headWeights.Length];
            int images = 0;
            foreach (var (batch, slot) in Batches(_train.ReadFrom(_position)))
            {
                using (batch)
                {
                    if (micro == 0) _stepKeys = "";
                    _stepKeys += (_stepKeys.Length > 0 ? ", " : "") + $"{batch.Keys[0]} .. {batch.Keys[batch.Count - 1]}";
                    images += batch.Count;
                    Accumulate(batch, slot, headSums, ref lossSum);
                    _position = batch.Next;
                }
                if (++micro < _config.Optimizer.IterSize) continue;
                micro = 0;
                int stop = RunStep(lossSum, headSums, images, clock, startStep);
                lossSum = 0;
                Array.Clear(headSums);
                images = 0;
                if (stop >= 0) return stop;
                if (!byEpoch && _step >= _totalSteps) { epochDone = false; break; }
            }
            if (micro > 0) _sgd.ZeroGrad(); // a partial accumulation at the epoch's end is dropped (drop_last of steps)
            if (!epochDone) break;
            _position = LoaderPosition.Start(epoch + 1);
            _log.TrainSummary(epoch, _step, _lastTrainLoss, _sgd.LearningRate, (_imagesSeen - _imagesAtStart) / Math.Max(1e-9, clock.Elapsed.TotalSeconds));
            if (byEpoch)
            {
                if (epoch + 1 == epochs) RecomputeBatchNorm();
                bool evaluate = (epoch + 1) % _config.Training.EvalEvery == 0 || epoch + 1 == epochs;
                bool save = (epoch + 1) % _config.Training.CheckpointEvery == 0 || epoch + 1 == epochs;
                bool improved = evaluate && Evaluate(epoch, clock);
                if (save || improved) Checkpoint(improved);
            }
        }
        // Final evaluation and checkpoint unless the last epoch or interval just wrote them.
        if (RecomputeBatchNorm()) _lastEvalStep = _lastCheckpointStep = -1;
        bool finalImproved = _lastEvalStep != _step && Evaluate(_position.Epoch, clock);
        if (_lastCheckpointStep != _step || finalImproved) Checkpoint(finalImproved);
        _log.Info("done: {Steps} steps, {Skipped} skipped, best top-1 error {Best}, {Elapsed:F1} s; checkpoints in {Dir}",
            _step, _skipped, _bestMetric is double b ? $"{b:F2}%" : "n/a", clock.Elapsed.TotalSeconds, _store.Directory);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// training.bn_recompute_batches: once, after the last step and before its evaluation and checkpoint,
    /// replaces the batch-norm moving averages by plain averages over that many batches of the next
    /// epoch's training stream (training augmentation, no gradients). Returns whether it ran now.
    /// </summary>
    private bool RecomputeBatchNorm()
    {
        if (_config.Training.BnRecomputeBatches is not int count || _bnRecomputed) return false;
        _bnRecomputed = true;
        var clock = Stopwatch.StartNew();
        IEnumerable<Tensor> Batches()
        {
            foreach (var batch in _train.ReadFrom(LoaderPosition.Start(_position.Epoch + 1)).Take(count))
                using (batch)
                {
                    using var x = BatchInput.ToDevice(batch, _device);   // (N, C, H, W) float32 on the device
                    yield return x;
                }
        }
        int used = BatchNormRecompute.Run(_net, Batches());
        _log.Info("batch norm: statistics re-estimated as plain averages over {Used} training batch(es) of {Batch} ({Seconds:F1} s)",
            used, _config.Data.BatchSize, clock.Elapsed.TotalSeconds);
        return true;
    }

    /// <summary>
    /// The loader's batches, each with its prefetch slot on CUDA (Note [Batch prefetch ordering]: the next batch uploads
    /// while this one's step runs), or slot −1 where each step uploads its own batch (the CPU; training.cuda.prefetch off).
    /// </summary>
    private IEnumerable<(HostBatch Batch, int Slot)> Batches(IEnumerable<HostBatch> source) =>
        _prefetch?.Run(source) ?? source.Select(b => (b, -1));

    /// <summary>Forward and backward of one micro-batch; gradients accumulate until the step.</summary>
    private void Accumulate(HostBatch batch, int slot, double[] headSums, ref double lossSum)
    {
        int iter = _config.Optimizer.IterSize;
        using var scope = TensorScope.Begin();
        // x: (N, C, H, W) float32 on the device (a uint8 batch is normalised there); y: (N) int32.
        var (x, y) = slot < 0
            ? (BatchInput.ToDevice(batch, _device), Tensor.FromSpan<int>(batch.Labels.AsSpan(0, batch.Count), [batch.Count], _device))
            : _prefetch!.Uploader.Take(slot, batch);   // uploaded during the previous step
        _batchRows = x.Size(0);
        var heads = _net.ForwardHeads(x);
        Tensor? total = null;
        var losses = new Tensor[heads.Count + 1];   // each (1): the heads' losses, then the total
        for (int i = 0; i < heads.Count; i++)
        {
            // Deep supervision: main loss + Σ weight × auxiliary loss; each head's loss is logged.
            var ce = Op.CrossEntropy(heads[i], y, _config.Training.LabelSmoothing);
            losses[i] = ce;
            var term = _headWeights[i] == 1 ? ce : Op.Scale(ce, _headWeights[i]);
            total = total is null ? term : Op.Add(total, term);
        }
        if (_faults.NanAtStep == _step + 1) total = Op.Scale(total!, double.NaN);
        if (iter > 1) total = Op.Scale(total!, 1.0 / iter);
        losses[^1] = total!;
        float[] values;
        using (GradMode.NoGrad())   // one host read for all of them (a GPU synchronises once, not once per head)
            values = Op.Concat(losses.Select(l => Op.Reshape(l, 1)).ToArray(), dim: 0).ToArray<float>();
        for (int i = 0; i < heads.Count; i++) headSums[i] += values[i] / iter;
        lossSum += values[^1];
        total!.Backward();
    }

    /// <summary>Checks, clips and applies the accumulated gradients; logs; checkpoints and evaluates on schedule. Returns an exit code to stop with, or −1.</summary>
    private int RunStep(double loss, double[] headLosses, int images, Stopwatch clock, long startStep)
    {
        double lr = _schedule.At(_step);
        _sgd.LearningRate = lr;
        if (_faults.InfGradAtStep == _step + 1) PoisonGradient(_params.Count / 2);
        if (_faults.SleepPerStepMs is long sleep) Thread.Sleep((int)sleep);
        var (badParameter, normSquared) = GradientHealth();
        if (!double.IsFinite(loss) || !double.IsFinite(normSquared))
        {
            string what = !double.IsFinite(loss) ? $"loss is {loss}"
                : badParameter is not null ? $"gradient of '{badParameter}' is not finite (the first parameter, in model order, whose gradient went bad)"
                : "the squared gradient norm overflowed, though every gradient is finite";
            string where = $"step {_step + 1} (epoch {_position.Epoch}, batch {_position.Batch - 1}, stream position {_position.NextSample}, sample keys {_stepKeys})";
            _sgd.ZeroGrad();
            if (_config.Training.OnNan == NanAction.Stop)
                throw new RunStopException(ExitCodes.NonFinite, $"non-finite values at {where}: {what}; no checkpoint written from this state. " +
                    "Lower optimizer.lr, set optimizer.grad_clip, or use training.on_nan: skip");
            _skipped++;
            _consecutiveSkips++;
            _log.Warn("skipped {Where}: {What} ({Skipped} skipped so far)", where, what, _skipped);
            if (_consecutiveSkips >= _config.Training.MaxConsecutiveSkips)
                throw new RunStopException(ExitCodes.NonFinite, $"{_consecutiveSkips} non-finite steps in a row up to {where}: the loss is probably exploding; lower optimizer.lr or set optimizer.grad_clip");
        }
        else
        {
            if (_config.Optimizer.GradClip is double clip && Math.Sqrt(normSquared) > clip) ScaleGradients(clip / Math.Sqrt(normSquared));
            _sgd.Step();
            _sgd.ZeroGrad();
            _consecutiveSkips = 0;
            UpdateEma();
        }
        _step++;
        if (_step == startStep + 1)   // this session's first step (a resumed run may meet new shapes too)
        {
            SaveConvAlgorithms();
            LogConvLayers();
        }
        if (_config.Training.Iterations is not null && _step == _totalSteps) RecomputeBatchNorm();
        _imagesSeen += images;
        _lastTrainLoss = loss;
        double rate = (_imagesSeen - _imagesAtStart) / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
        TimeSpan? eta = _step > startStep ? TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / (_step - startStep) * (_totalSteps - _step)) : null;
        _log.Step(_step, _totalSteps, _position.Epoch, loss, headLosses, lr, rate, eta);
        if (_faults.KillAfterStep == _step) FaultInjection.KillSelf();

        bool byIteration = _config.Training.Iterations is not null;
        bool improved = byIteration && _step % _config.Training.EvalEvery == 0 && Evaluate(_position.Epoch, clock);
        bool save = improved
            || (_config.Training.CheckpointEverySteps is int every && _step % every == 0)
            || (byIteration && _step % _config.Training.CheckpointEvery == 0);
        if (_signals > 0)
        {
            Checkpoint(improved);
            _log.Warn("stopped by signal after step {Step}; resume with: kiln train CONFIG --resume {RunDir}", _step, _runDir);
            return ExitCodes.Preempted;
        }
        if (save) Checkpoint(improved);
        return -1;
    }

    /// <summary>
    /// Σ‖g‖² over all gradients and the first parameter (model order) whose gradient has a NaN or Inf.
    /// The sums stay on the device and are added there in float64: one host read per step, not one per
    /// tensor (a GPU would otherwise wait for every parameter). Only a non-finite total pays for the
    /// per-tensor search that names the parameter.
    /// </summary>
    private (string? Bad, double NormSquared) GradientHealth()
    {
        using var _ = GradMode.NoGrad();
        using var scope = TensorScope.Begin();
        var sums = new List<(string Name, Tensor SumSquares)>(_params.Count);   // each a float64 scalar
        Tensor? total = null;
        foreach (var (name, p) in _params)
        {
            if (p.Grad is not { } g) continue;
            var s = Op.Sum(Op.Mul(g, g)).To(DType.Float64);
            sums.Add((name, s));
            total = total is null ? s : Op.Add(total, s);
        }
        double norm = total?.Item() ?? 0;
        if (double.IsFinite(norm)) return (null, norm);
        foreach (var (name, s) in sums)
            if (!double.IsFinite(s.Item())) return (name, double.NaN);
        return (null, double.NaN);   // every gradient finite, but Σ‖g‖² overflowed float64
    }

    private void PoisonGradient(int index)
    {
        using var _ = GradMode.NoGrad();
        var p = _params[index].P;
        if (p.Grad is not { } g) return;
        using var scope = TensorScope.Begin();
        var poisoned = Op.Add(g, Tensor.Full(g.Shape, double.PositiveInfinity, g.DType, g.Device)).MoveOutOfScope();
        p.Value.Grad = poisoned;
        g.Dispose();
    }

    private void ScaleGradients(double factor)
    {
        using var _ = GradMode.NoGrad();
        foreach (var (_, p) in _params)
        {
            if (p.Grad is not { } g) continue;
            using var scope = TensorScope.Begin();
            var scaled = Op.Scale(g, factor).MoveOutOfScope();
            p.Value.Grad = scaled;
            g.Dispose();
        }
    }

    /// <summary>Validation (main head, evaluation mode); feeds a plateau schedule; returns whether the best top-1 error improved.</summary>
    private bool Evaluate(int epoch, Stopwatch clock)
    {
        _lastEvalStep = _step;
        if (_val is null) return false;
        _net.Eval();
        var evaluator = new Evaluator(_config.Model.NumClasses);
        try
        {
            WithEmaWeights(() =>
            {
                foreach (var batch in _val.ReadEpoch(0))
                    using (batch) evaluator.Add(batch, [_config.Training.EvalProtocol == EvalProtocol.Dense ? _net.ForwardDense : _net.Forward], _device);
            });
        }
        finally
        {
            _net.Train();
        }
        SaveConvAlgorithms();   // evaluation batches may bring new shapes
        var r = evaluator.Result();
        double top1 = 100 * r.Top1Error, top5 = 100 * r.Top5Error;
        _log.Eval(epoch, _step, _lastTrainLoss, r.Loss, top1, top5, _sgd.LearningRate, _imagesSeen, clock.Elapsed.TotalSeconds, r.Count);
        WriteCurves();
        double metric = _config.Schedule.Metric switch
        {
            "val_top5_error" => top5,
            "val_loss" => r.Loss,
            _ => top1,
        };
        if (_schedule.Observe(metric))
            _log.Warn("plateau: {Metric} has not improved; learning rate divided, factor now {Factor:G3} ({Reductions} reduction(s))",
                _config.Schedule.Metric, _schedule.Plateau.Factor, _schedule.Plateau.Reductions);
        if (_bestMetric is double best && top1 >= best) return false;
        _bestMetric = top1;
        _bestStep = _step;
        return true;
    }

    /// <summary>curves.png beside metrics.csv (issue 7). A picture that cannot be drawn is reported, never fatal to the run.</summary>
    private void WriteCurves()
    {
        try
        {
            Kiln.Visualization.TrainingCurves.WriteForRun(_runDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException or ArgumentException)
        {
            _log.Warn("could not draw curves.png: {Message}", e.Message);
        }
    }

    private void Checkpoint(bool best)
    {
        var state = new CheckpointState
        {
            Epoch = _position.Epoch,
            Step = _step,
            LoaderBatch = _position.Batch,
            LoaderNextSample = _position.NextSample,
            LoaderBadSoFar = _position.BadSoFar,
            LoaderFingerprint = _train.Fingerprint(),
            Generators = [new GeneratorState("global", RandomGenerator.Global.Seed, RandomGenerator.Global.Offset)],
            Plateau = _schedule.Plateau,
            BestMetric = _bestMetric,
            BestStep = _bestStep,
            SkippedSteps = _skipped,
            ConsecutiveSkips = _consecutiveSkips,
            ImagesSeen = _imagesSeen,
            LastEvalStep = _lastEvalStep,
            LastTrainLoss = double.IsFinite(_lastTrainLoss) ? _lastTrainLoss : null,
            Config = _configYaml,
            ConfigHash = _configHash,
        };
        string dir;
        try
        {
            dir = _store.Save(_step,
            [
                new CheckpointFile("model.safetensors", s => Safetensors.Write(s, _net.StateDict().Select(e => (e.Name, e.Value)).ToList())),
                new CheckpointFile("optimizer.safetensors", s => Safetensors.Write(s, OptimizerTensors().ToList())),
            ], state);
            if (best) _store.MarkBest(dir);
        }
        catch (IOException e)
        {
            throw new RunStopException(ExitCodes.CheckpointError, $"checkpoint at step {_step} into '{_store.Directory}' failed: {e.Message} (the previous checkpoint is untouched)", e);
        }
        _lastCheckpointStep = _step;
        _log.Info("checkpoint {Dir}{Best}", dir, best ? " (best so far)" : "");
        _store.Retain(_config.Training.KeepCheckpoints, problem => _log.Warn("{Problem}", problem));
    }

    private IEnumerable<(string, Tensor)> OptimizerTensors()
    {
        foreach (var (name, p) in _params)
            if (_sgd.Velocity(p) is { } v) yield return ("momentum." + name, v);
        for (int i = 0; i < _ema.Length; i++)
            if (_ema[i] is { } e) yield return ("ema." + _params[i].Name, e);
    }

    /// <summary>Polyak averaging (GoogLeNet): ema ← d·ema + (1 − d)·w after each update; the first update copies w.</summary>
    private void UpdateEma()
    {
        if (_config.Training.EmaDecay is not double d) return;
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < _ema.Length; i++)
        {
            using var scope = TensorScope.Begin();
            var w = _params[i].P.Value;
            var next = _ema[i] is { } old ? Op.Add(Op.Scale(old, d), Op.Scale(w, 1 - d)) : Op.Scale(w, 1.0);
            next.MoveOutOfScope();
            _ema[i]?.Dispose();
            _ema[i] = next;
        }
    }

    /// <summary>Runs <paramref name="body"/> with the EMA weights in the parameters (when EMA is on), then puts the trained weights back.</summary>
    private void WithEmaWeights(Action body)
    {
        if (_ema.Length == 0 || _ema[0] is null) { body(); return; }
        var saved = new Tensor[_params.Count];
        using (GradMode.NoGrad())
            for (int i = 0; i < _params.Count; i++)
            {
                using var scope = TensorScope.Begin();
                saved[i] = Op.Scale(_params[i].P.Value, 1.0).MoveOutOfScope();
                _params[i].P.Set(Op.Scale(_ema[i]!, 1.0).MoveOutOfScope());
            }
        try
        {
            body();
        }
        finally
        {
            for (int i = 0; i < _params.Count; i++) _params[i].P.Set(saved[i]);
        }
    }

    private void Restore(CheckpointInfo checkpoint, bool allowConfigChange)
    {
        var state = checkpoint.State!;
        var diffs = ConfigDiff.Compare(state.Config, _configYaml);
        string fingerprint = _train.Fingerprint();
        if (state.LoaderFingerprint != fingerprint)
            diffs.Add(("data (loader fingerprint: shards, sizes, order settings)", state.LoaderFingerprint, fingerprint));
        var harmful = diffs.Where(d => !ConfigDiff.IsHarmless(d.Key)).ToList();
        foreach (var d in diffs.Where(d => ConfigDiff.IsHarmless(d.Key)))
            _log.Warn("config change on resume: {Key}: {Before} -> {After}", d.Key, d.Before, d.After);
        if (harmful.Count > 0)
        {
            string list = string.Join("; ", harmful.Select(d => $"{d.Key}: checkpoint {d.Before}, now {d.After}"));
            if (!allowConfigChange)
                throw new RunStopException(ExitCodes.ConfigError, $"refusing to resume from '{checkpoint.Path}' with a changed config ({harmful.Count} difference(s)): {list}. " +
                    "Pass --allow-config-change to resume anyway");
            _log.Warn("resuming with a changed config (--allow-config-change): {List}", list);
        }
        ModelWeights.Load(_net, Path.Combine(checkpoint.Path, "model.safetensors"), strict: true);
        var opt = Safetensors.Load(Path.Combine(checkpoint.Path, "optimizer.safetensors"));
        var drop = _faults.ResumeDrop;
        foreach (var (name, p) in _params)
            if (opt.Remove("momentum." + name, out var v))
            {
                if (drop.Contains("momentum")) v.Dispose();
                else _sgd.SetVelocity(p, OnDevice(v));
            }
        for (int i = 0; i < _ema.Length; i++)
            if (opt.Remove("ema." + _params[i].Name, out var e))
            {
                if (drop.Contains("ema")) e.Dispose();
                else _ema[i] = OnDevice(e).MoveOutOfScope();
            }
        if (opt.Count > 0)
        {
            string extra = string.Join(", ", opt.Keys.Take(5));
            foreach (var t in opt.Values) t.Dispose();
            throw new RunStopException(ExitCodes.CheckpointError, $"optimizer state in '{checkpoint.Path}' has {opt.Count} tensor(s) for parameters this model does not have ({extra}); the model changed");
        }
        _sgd.StepCount = state.Step;
        _step = state.Step;
        if (!drop.Contains("schedule")) _schedule.Plateau = state.Plateau;
        var g = state.Generators.FirstOrDefault(x => x.Name == "global")
            ?? throw new RunStopException(ExitCodes.CheckpointError, $"'{checkpoint.Path}' has no state for the global random generator");
        if (!drop.Contains("rng"))
        {
            RandomGenerator.Global.ManualSeed(g.Seed);
            RandomGenerator.Global.Offset = g.Offset;
        }
        _position = drop.Contains("position")
            ? LoaderPosition.Start(state.Epoch)
            : new LoaderPosition(state.Epoch, state.LoaderBatch, state.LoaderNextSample, state.LoaderBadSoFar);
        _bestMetric = state.BestMetric;
        _bestStep = state.BestStep;
        _skipped = state.SkippedSteps;
        _consecutiveSkips = state.ConsecutiveSkips;
        _imagesSeen = state.ImagesSeen;
        _lastEvalStep = state.LastEvalStep;
        _lastCheckpointStep = state.Step;
        _lastTrainLoss = state.LastTrainLoss ?? double.NaN;
        // Metrics rows written after this checkpoint will be written again: drop them (and this step's, if its validation came after the save).
        _log.ForgetAfter(state.LastEvalStep == state.Step ? state.Step : state.Step - 1);
        _log.Info("resumed from {Path}: step {Step}, epoch {Epoch}, batch {Batch} of the epoch", checkpoint.Path, _step, _position.Epoch, _position.Batch);
    }

    private Tensor OnDevice(Tensor t)
    {
        if (_device.Equals(Device.Cpu)) return t;
        var moved = t.To(_device);
        t.Dispose();
        return moved;
    }

    /// <summary>Free space for keep_checkpoints + 1 checkpoints, and a write probe, before any step (CK-3, CK-4).</summary>
    private void Preflight()
    {
        long bytes = _net.StateDict().Sum(e => e.Value.NumElements * e.Value.DType.Size());
        if (_config.Optimizer.Momentum > 0) bytes += _params.Sum(p => p.P.NumElements * 4);
        long need = bytes * (_config.Training.KeepCheckpoints + 1);
        string probe = Path.Combine(_store.Directory, $".write-probe-{Environment.ProcessId}.tmp");
        try
        {
            Directory.CreateDirectory(_store.Directory);
            File.WriteAllText(probe, "probe");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunStopException(ExitCodes.CheckpointError, $"cannot write checkpoints into '{_store.Directory}': {e.Message}", e);
        }
        long free = FreeBytes(_store.Directory);
        if (free >= 0 && free < need)
            throw new RunStopException(ExitCodes.CheckpointError, $"not enough disk space for checkpoints in '{_store.Directory}': " +
                $"{_config.Training.KeepCheckpoints + 1} × {bytes:N0} bytes = {need:N0} bytes needed, {free:N0} free. Lower training.keep_checkpoints or free space");
    }

    private static long FreeBytes(string path)
    {
        string full = Path.GetFullPath(path);
        var drive = DriveInfo.GetDrives()
            .Where(d => d.IsReady && full.StartsWith(d.RootDirectory.FullName, StringComparison.Ordinal))
            .OrderByDescending(d => d.RootDirectory.FullName.Length).FirstOrDefault();
        return drive?.AvailableFreeSpace ?? -1;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (Interlocked.Increment(ref _signals) > 1)
        {
            Console.Error.WriteLine("kiln: second signal, exiting now; the last committed checkpoint stays valid");
            Environment.Exit(ExitCodes.Interrupted);
        }
        Console.Error.WriteLine($"\nkiln: {context.Signal}: finishing the step, then writing a checkpoint (send it again to exit at once)");
    }

    private void OnDataEvent(DataEvent e)
    {
        if (e.Kind == DataEventKind.BadSample) _log.Warn("{Message}", e.Message);
        else _log.Logger.Debug("{Message}", e.Message);
    }

    public void Dispose()
    {
        _uploader?.Dispose();
        foreach (var e in _ema) e?.Dispose();
        _sgd.Dispose();
        _net.Dispose();
    }
}
