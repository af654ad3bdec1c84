using System.Diagnostics;
using Kiln.Serialization;

namespace Kiln.Tests.Serialization;

/// <summary>Fault scenario LD-8: random damage to a valid file gives a load or a typed error, nothing else.</summary>
public sealed class SafetensorsFuzzTests
{
    private static byte[] ValidFile()
    {
        using var scope = TensorScope.Begin();
        return Safetensors.Serialize(
        [
            ("features.0.weight", Tensor.Full([4, 3, 2, 2], 0.5)),
            ("features.0.bias", Tensor.Zeros([4], DType.Float64)),
            ("bn.num_batches_tracked", Tensor.Scalar(3, DType.Int64)),
            ("bn.running_var", Tensor.FromArray(new[] { (Half)1, (Half)2, (Half)0.5, (Half)(-3) }, [4])),
            ("mask", Tensor.Zeros([5], DType.UInt8)),
            ("empty", Tensor.Zeros([0, 7])),
            ("idx", Tensor.Zeros([2], DType.Int32)),
        ], new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "12" });
    }

    [Fact(Timeout = 120_000)]
    public async Task Fuzz_MutatedFiles_OnlyEverThrowSafetensorsFormatException()
    {
        await Task.Run(() =>
        {
            var valid = ValidFile();
            int headerEnd = 8 + (int)BitConverter.ToInt64(valid, 0);
            var rng = new Random(20261125);
            var sw = Stopwatch.StartNew();
            int loaded = 0, rejected = 0;
            const int iterations = 10_000;
            for (int i = 0; i < iterations; i++)
            {
                var bytes = Mutate(valid, headerEnd, rng, out string how);
                try
                {
                    using var f = SafetensorsFile.Read(new MemoryStream(bytes), "fuzz");
                    foreach (var e in f.Entries) f.Load(e).Dispose();
                    loaded++;
                }
                catch (SafetensorsFormatException)
                {
                    rejected++;
                }
                catch (Exception e)
                {
                    Assert.Fail($"iteration {i} ({how}): {e.GetType().Name}: {e.Message}");
                }
            }
            Assert.Equal(iterations, loaded + rejected);
            Assert.True(rejected > iterations / 2, $"only {rejected} of {iterations} mutations were rejected");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {sw.Elapsed}");
        }, TestContext.Current.CancellationToken);
    }

    private static byte[] Mutate(byte[] valid, int headerEnd, Random rng, out string how)
    {
        var b = (byte[])valid.Clone();
        // Most mutations land in the prefix and header, where the parser lives.
        int Pos() => rng.Next(4) == 0 ? rng.Next(b.Length) : rng.Next(Math.Min(headerEnd, b.Length));
        switch (rng.Next(8))
        {
            case 0:
                int n = rng.Next(1, 5);
                for (int k = 0; k < n; k++) b[Pos()] = (byte)rng.Next(256);
                how = $"{n} random bytes";
                return b;
            case 1:
                int p = Pos();
                b[p] ^= (byte)(1 << rng.Next(8));
                how = $"bit flip at {p}";
                return b;
            case 2:
                int len = rng.Next(b.Length);
                how = $"truncated to {len}";
                return b[..len];
            case 3:
                int at = Pos();
                how = $"byte inserted at {at}";
                return [.. b[..at], (byte)rng.Next(256), .. b[at..]];
            case 4:
                int del = Pos();
                how = $"byte deleted at {del}";
                return [.. b[..del], .. b[(del + 1)..]];
            case 5:
                BitConverter.GetBytes(rng.Next(3) == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(b.Length + 16)).CopyTo(b, 0);
                how = "length prefix replaced";
                return b;
            case 6:
                // A digit changed: offsets and shapes that still parse but lie.
                var digits = Enumerable.Range(8, headerEnd - 8).Where(i => b[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                int d = digits[rng.Next(digits.Length)];
                b[d] = (byte)('0' + rng.Next(10));
                how = $"digit at {d}";
                return b;
            default:
                // A structural character swapped for another.
                var structural = "{}[]\":,"u8.ToArray();
                int s = rng.Next(8, headerEnd);
                b[s] = structural[rng.Next(structural.Length)];
                how = $"structural char at {s}";
                return b;
        }
    }
}
