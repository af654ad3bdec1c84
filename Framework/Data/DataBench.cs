using System.Diagnostics;

namespace Kiln.Data;

/// <summary>
/// Measures the pipeline stage by stage on one thread (tar read, decode + augment, collate copy),
/// then the whole loader with N workers. Each timed pass runs after a warm-up pass over the same images.
/// Decode + augment is also timed in process CPU time, which stays meaningful on a busy shared machine.
/// </summary>
public static class DataBench
{
    /// <summary>Times <paramref name="maxImages"/> images of <paramref name="shards"/>; <paramref name="format"/> is the batches'
    /// format: float32 NCHW (normalised here) or uint8 NHWC (normalised later, on a GPU).</summary>
    public static DataBenchResult Run(string shards, int workers, TransformOptions transform, int maxImages = 500, int batchSize = 64,
        DecodeLimits? limits = null, BatchFormat format = BatchFormat.Float32Nchw)
    {
        limits ??= new DecodeLimits();
        var paths = ShardList.Resolve(shards);
        var samples = new List<RawSample>();
        double readSeconds = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var s in samples) s.Release();
            samples.Clear();
            var sw = Stopwatch.StartNew();
            foreach (var path in paths)
            {
                foreach (var s in new ShardReader(path).ReadSamples())
                {
                    if (s.Fault is null && samples.Count < maxImages) samples.Add(s);
                    else s.Release();
                }
                if (samples.Count >= maxImages) break;
            }
            readSeconds = sw.Elapsed.TotalSeconds;
        }
        if (samples.Count == 0) throw new InvalidDataException($"no good samples in '{shards}'");
        try
        {
            double bytes = 0, width = 0, height = 0;
            foreach (var s in samples)
            {
                bytes += s.ImageLength;
                if (ImageDecoder.Probe(s.ImageSpan, out int w, out int h, out _).Success) { width += w; height += h; }
            }

            using var decoder = new ImageDecoder(limits);
            var pixels = new float[transform.SampleElements];
            var batch = new float[transform.SampleElements * batchSize];
            var bytesOut = new byte[transform.SampleElements];
            var batchBytes = new byte[transform.SampleElements * batchSize];
            double decodeSeconds = 0, decodeCpuSeconds = 0, collateSeconds = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                var sw = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                for (int i = 0; i < samples.Count; i++)
                {
                    var random = new SampleRandom(1, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), i);
                    if (format == BatchFormat.UInt8Nhwc) decoder.Decode(samples[i].ImageSpan, transform, ref random, bytesOut);
                    else decoder.Decode(samples[i].ImageSpan, transform, ref random, pixels);
                }
                decodeSeconds = sw.Elapsed.TotalSeconds;
                decodeCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                sw.Restart();
                for (int i = 0; i < samples.Count; i++)
                    if (format == BatchFormat.UInt8Nhwc) bytesOut.CopyTo(batchBytes.AsSpan(i % batchSize * bytesOut.Length));
                    else pixels.CopyTo(batch.AsSpan(i % batchSize * pixels.Length));
                collateSeconds = sw.Elapsed.TotalSeconds;
            }

            int n = samples.Count;
            var options = new LoaderOptions
            {
                Shards = shards,
                Workers = workers,
                BatchSize = batchSize,
                Transform = transform,
                ShuffleBuffer = 0,
                MaxBadFraction = 1,
                Mode = LoaderMode.Train,
                Limits = limits,
                DropLast = false,
                Format = format,
            };
            var loader = new DataLoader(options);
            double loaderRate = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                var sw = Stopwatch.StartNew();
                int count = 0;
                foreach (var b in loader.ReadEpoch(pass))
                {
                    count += b.Count;
                    b.Dispose();
                    if (count >= n) break;
                }
                loaderRate = count / sw.Elapsed.TotalSeconds;
            }
            return new DataBenchResult(n, bytes / n, width / n, height / n, 1000 * readSeconds / n, 1000 * decodeSeconds / n,
                1000 * decodeCpuSeconds / n, 1000 * collateSeconds / n, workers, loaderRate, decoder.JpegLibrary);
        }
        finally
        {
            foreach (var s in samples) s.Release();
        }
    }
}
