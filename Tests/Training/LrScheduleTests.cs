using Kiln.Config;
using Kiln.Training;

namespace Kiln.Tests.Training;

public sealed class LrScheduleTests
{
    private static LrSchedule Make(ScheduleConfig c, long perEpoch = 10, long total = 1000) => new(c, 0.1, perEpoch, total);

    [Fact]
    public void Step_DividesEveryStepSizeEpochs()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Step, StepSize = 30, Gamma = 0.1 });
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(0.1, s.At(299), 12);      // epoch 29
        Assert.Equal(0.01, s.At(300), 12);     // epoch 30
        Assert.Equal(0.001, s.At(600), 12);
    }

    [Fact]
    public void Multistep_And_Iterations()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Multistep, Milestones = [100, 250], Unit = ScheduleUnit.Iteration });
        Assert.Equal(0.1, s.At(99), 12);
        Assert.Equal(0.01, s.At(100), 12);
        Assert.Equal(0.001, s.At(250), 12);
    }

    [Fact]
    public void Exponential_PerWholeEpoch()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Exponential, Gamma = 0.5 });
        Assert.Equal(0.1, s.At(9), 12);
        Assert.Equal(0.05, s.At(10), 12);
        Assert.Equal(0.0125, s.At(35), 12);
    }

    [Fact]
    public void Poly_CaffeFormula()
    {
        // Caffe quick solver: power 0.5 over the whole run.
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Poly, Power = 0.5, Unit = ScheduleUnit.Iteration }, total: 1000);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(0.1 * Math.Sqrt(0.75), s.At(250), 12);
        Assert.Equal(0.0, s.At(1000), 12);
    }

    [Fact]
    public void Cosine_HalfwayIsTheMidpoint()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Cosine, MinLr = 0.02 }, perEpoch: 10, total: 1000);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(0.06, s.At(500), 12);
        Assert.Equal(0.02, s.At(1000), 12);
    }

    [Fact]
    public void Warmup_RisesLinearlyFromTheStartFactor()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Fixed, WarmupLength = 5, WarmupStartFactor = 0.2 });
        Assert.Equal(0.02, s.At(0), 12);
        Assert.Equal(0.1 * (0.2 + 0.8 * 2.5 / 5), s.At(25), 12);
        Assert.Equal(0.1, s.At(50), 12);
    }

    [Fact]
    public void Plateau_ReducesAfterPatience_RespectsCooldownAndMaxReductions()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Plateau, Patience = 1, Gamma = 0.1, Cooldown = 1, MaxReductions = 2 });
        Assert.False(s.Observe(0.5));   // best
        Assert.False(s.Observe(0.5));   // 1 bad: not more than patience
        Assert.True(s.Observe(0.6));    // 2 bad: reduce
        Assert.Equal(0.01, s.At(0), 12);
        Assert.False(s.Observe(0.7));   // cooldown
        Assert.False(s.Observe(0.7));   // 1 bad
        Assert.True(s.Observe(0.7));    // second reduction
        Assert.Equal(0.001, s.At(0), 12);
        for (int i = 0; i < 10; i++) Assert.False(s.Observe(0.9)); // max_reductions reached
        Assert.Equal(0.001, s.At(0), 12);
        Assert.Equal(2, s.Plateau.Reductions);
    }

    [Fact]
    public void Plateau_MaxMode_ImprovesUpwards()
    {
        var s = Make(new ScheduleConfig { Kind = ScheduleKind.Plateau, Mode = PlateauMode.Max, Patience = 0 });
        Assert.False(s.Observe(0.5));
        Assert.False(s.Observe(0.6));
        Assert.True(s.Observe(0.6));
    }
}
