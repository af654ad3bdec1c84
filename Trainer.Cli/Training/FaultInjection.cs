using System.Diagnostics;

namespace Kiln.Cli.Training;

/// <summary>
/// Test hooks from the <c>KILN_FAULT</c> environment variable (comma-separated):
/// <c>kill@step=K</c> SIGKILLs the process right after optimizer step K (before its checkpoint);
/// <c>kill@ckpt_bytes=K</c> SIGKILLs it after K bytes of checkpoint data were written;
/// <c>nan@step=K</c> makes the loss of step K NaN. Never set in normal runs.
/// </summary>
public sealed class FaultInjection
{
    public long? KillAfterStep { get; private init; }
    public long? KillAfterCheckpointBytes { get; private init; }
    public long? NanAtStep { get; private init; }

    public static FaultInjection FromEnvironment()
    {
        string? spec = Environment.GetEnvironmentVariable("KILN_FAULT");
        if (string.IsNullOrWhiteSpace(spec)) return new();
        long? killStep = null, killBytes = null, nan = null;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq < 0 || !long.TryParse(part.AsSpan(eq + 1), out long v)) throw new ArgumentException($"KILN_FAULT: cannot read '{part}'");
            switch (part[..eq])
            {
                case "kill@step": killStep = v; break;
                case "kill@ckpt_bytes": killBytes = v; break;
                case "nan@step": nan = v; break;
                default: throw new ArgumentException($"KILN_FAULT: unknown hook '{part[..eq]}' (kill@step, kill@ckpt_bytes, nan@step)");
            }
        }
        return new() { KillAfterStep = killStep, KillAfterCheckpointBytes = killBytes, NanAtStep = nan };
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
