using System.Diagnostics;

namespace Kiln.Cli.Training;

/// <summary>
/// Test hooks from the <c>KILN_FAULT</c> environment variable (comma-separated):
/// <c>kill@step=K</c> SIGKILLs the process right after optimizer step K (before its checkpoint);
/// <c>kill@ckpt_bytes=K</c> SIGKILLs it after K bytes of checkpoint data were written;
/// <c>nan@step=K</c> makes the loss of step K NaN; <c>inf_grad@step=K</c> puts +Inf into the gradient
/// of the middle parameter (model order) at step K; <c>sleep@step_ms=K</c> makes every step K ms longer
/// (a slow step, for signal tests). <c>KILN_RESUME_DROP</c> (rng, momentum, position,
/// schedule, ema; comma-separated) makes a resume ignore that part of the checkpoint, so tests can show
/// that each part is needed for an exact resume (fault scenario RS-2). Never set in normal runs.
/// </summary>
public sealed class FaultInjection
{
    public long? KillAfterStep { get; private init; }
    public long? KillAfterCheckpointBytes { get; private init; }
    public long? NanAtStep { get; private init; }
    public long? InfGradAtStep { get; private init; }
    public long? SleepPerStepMs { get; private init; }
    public IReadOnlySet<string> ResumeDrop { get; private init; } = new HashSet<string>();

    public static FaultInjection FromEnvironment()
    {
        string? spec = Environment.GetEnvironmentVariable("KILN_FAULT");
        var drop = (Environment.GetEnvironmentVariable("KILN_RESUME_DROP") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (string.IsNullOrWhiteSpace(spec)) return new() { ResumeDrop = drop };
        long? killStep = null, killBytes = null, nan = null, infGrad = null, sleep = null;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq < 0 || !long.TryParse(part.AsSpan(eq + 1), out long v)) throw new ArgumentException($"KILN_FAULT: cannot read '{part}'");
            switch (part[..eq])
            {
                case "kill@step": killStep = v; break;
                case "kill@ckpt_bytes": killBytes = v; break;
                case "nan@step": nan = v; break;
                case "inf_grad@step": infGrad = v; break;
                case "sleep@step_ms": sleep = v; break;
                default: throw new ArgumentException($"KILN_FAULT: unknown hook '{part[..eq]}' (kill@step, kill@ckpt_bytes, nan@step, inf_grad@step, sleep@step_ms)");
            }
        }
        return new() { KillAfterStep = killStep, KillAfterCheckpointBytes = killBytes, NanAtStep = nan, InfGradAtStep = infGrad, SleepPerStepMs = sleep, ResumeDrop = drop };
    }

    /// <summary>SIGKILL, as the kernel would deliver it: no finally blocks, no flushing.</summary>
    public static void KillSelf()
    {
        Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>A stream that kills the process once the bytes written through all such streams pass a budget.</summary>
    public sealed class KillingStream(Stream inner, Func<long, bool> addAndCheck) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            // Write up to the budget, flush what we have (so the partial file is really on disk), then die.
            for (int i = 0; i < buffer.Length; i += 4096)
            {
                var chunk = buffer.Slice(i, Math.Min(4096, buffer.Length - i));
                inner.Write(chunk);
                if (addAndCheck(chunk.Length))
                {
                    inner.Flush();
                    KillSelf();
                }
            }
        }
        protected override void Dispose(bool disposing) { }
    }
}
