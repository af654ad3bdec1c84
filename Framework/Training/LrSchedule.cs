using Kiln.Config;

namespace Kiln.Training;

/// <summary>What a reduce-on-plateau schedule remembers; saved in checkpoints for exact resume.</summary>
public sealed record PlateauState(double Factor, double? Best, int BadEvaluations, int CooldownLeft, int Reductions);

/// <summary>
/// The learning rate at each iteration. With t the progress in the configured unit (whole epochs
/// for the stepwise kinds, fractional epochs for the continuous ones; iterations when unit is
/// iteration), base rate η₀ and final rate η_min:
/// <list type="bullet">
/// <item>fixed: η₀</item>
/// <item>step: η₀ γ^⌊t / step_size⌋ (Caffe "step", PyTorch StepLR)</item>
/// <item>multistep: η₀ γ^(number of milestones ≤ t)</item>
/// <item>exponential: η₀ γ^t (GoogLeNet: 0.96 every 8 epochs is step with step_size 8)</item>
/// <item>poly: η_min + (η₀ − η_min)(1 − t/T)^power, T the whole run (Caffe "poly")</item>
/// <item>cosine: η_min + (η₀ − η_min)(1 + cos(π t/T))/2</item>
/// <item>plateau: η₀ γ^r after r reductions, each when the watched metric has not improved by a
/// relative threshold for more than patience evaluations (PyTorch ReduceLROnPlateau), at most
/// max_reductions times, never below η_min</item>
/// </list>
/// A linear warm-up multiplies the rate by a factor rising from warmup_start_factor to 1 over the
/// first warmup_length units.
/// </summary>
public sealed class LrSchedule
{
    private readonly ScheduleConfig _c;
    private readonly double _base;
    private readonly long _perUnit;
    private readonly double _horizon;

    /// <param name="config">The schedule section.</param>
    /// <param name="baseLr">η₀.</param>
    /// <param name="iterationsPerEpoch">Optimizer steps per epoch.</param>
    /// <param name="totalIterations">Optimizer steps in the whole run (the horizon of poly and cosine).</param>
    public LrSchedule(ScheduleConfig config, double baseLr, long iterationsPerEpoch, long totalIterations)
    {
        if (iterationsPerEpoch < 1) throw new ArgumentOutOfRangeException(nameof(iterationsPerEpoch), "at least one iteration per epoch");
        _c = config;
        _base = baseLr;
        _perUnit = config.Unit == ScheduleUnit.Epoch ? iterationsPerEpoch : 1;
        _horizon = Math.Max(1, (double)totalIterations / _perUnit);
        Plateau = new PlateauState(1, null, 0, 0, 0);
    }

    /// <summary>Reduce-on-plateau memory (factor 1 and nothing observed for other kinds).</summary>
    public PlateauState Plateau { get; set; }

    /// <summary>The rate for 0-based optimizer step <paramref name="iteration"/>.</summary>
    public double At(long iteration)
    {
        long whole = iteration / _perUnit;
        double frac = (double)iteration / _perUnit;
        double lr = _c.Kind switch
        {
            ScheduleKind.Fixed => _base,
            ScheduleKind.Step => _base * Math.Pow(_c.Gamma, whole / _c.StepSize),
            ScheduleKind.Multistep => _base * Math.Pow(_c.Gamma, _c.Milestones.Count(m => m <= whole)),
            ScheduleKind.Exponential => _base * Math.Pow(_c.Gamma, whole),
            ScheduleKind.Poly => _c.MinLr + (_base - _c.MinLr) * Math.Pow(Math.Max(0, 1 - frac / _horizon), _c.Power),
            ScheduleKind.Cosine => _c.MinLr + (_base - _c.MinLr) * (1 + Math.Cos(Math.PI * Math.Min(frac, _horizon) / _horizon)) / 2,
            ScheduleKind.Plateau => Math.Max(_base * Plateau.Factor, _c.MinLr),
            _ => throw new InvalidOperationException($"unknown schedule kind {_c.Kind}"),
        };
        if (_c.WarmupLength > 0 && frac < _c.WarmupLength)
            lr *= _c.WarmupStartFactor + (1 - _c.WarmupStartFactor) * frac / _c.WarmupLength;
        return lr;
    }

    /// <summary>Feeds an evaluation's metric to a plateau schedule; returns true when the rate was just reduced.</summary>
    public bool Observe(double metric)
    {
        if (_c.Kind != ScheduleKind.Plateau) return false;
        var s = Plateau;
        bool improved = s.Best is not double best
            || (_c.Mode == PlateauMode.Min ? metric < best * (1 - _c.Threshold) : metric > best * (1 + _c.Threshold));
        double? newBest = improved ? metric : s.Best;
        int bad = improved ? 0 : s.BadEvaluations + 1;
        int cooldown = s.CooldownLeft;
        if (cooldown > 0)
        {
            cooldown--;
            bad = 0;
        }
        bool reduce = bad > _c.Patience && (_c.MaxReductions is not int max || s.Reductions < max);
        Plateau = reduce
            ? new PlateauState(s.Factor * _c.Gamma, newBest, 0, _c.Cooldown, s.Reductions + 1)
            : new PlateauState(s.Factor, newBest, bad, cooldown, s.Reductions);
        return reduce;
    }
}
