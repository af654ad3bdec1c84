using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Kiln.Data;

/// <summary>
/// Streams shards into host batches: one reader thread per rank (tar → shuffle buffer → indexed
/// samples), N decode threads, and the consuming thread that puts samples back in index order and
/// collates batches. Stages are joined by a bounded <see cref="Channel{T}"/> and a reorder window, so
/// at most <see cref="LoaderOptions.Prefetch"/> samples are in flight.
///
/// Note [Loader determinism]: everything that decides order or content is a function of
/// (seed, epoch, rank, sample index): the shard permutation, the shuffle buffer's picks, and each
/// sample's augmentation (<see cref="SampleRandom"/>). Workers only decode; the consumer takes samples
/// in index order and skips bad ones in that order. So batches are the same for any worker count, and a
/// loader started at a <see cref="LoaderPosition"/> reproduces the rest of the epoch exactly: the reader
/// replays the stream up to the position (reading bytes, not decoding them).
///
/// Note [Rank split]: training splits by shard (rank r reads shards r, r+W, ... of the epoch's order),
/// so each rank reads only its part; ranks then hold different sample counts when shard sizes or
/// counts do not divide evenly, and the trainer should stop each epoch at the smallest count.
/// Evaluation splits by sample (every rank reads every shard, keeps samples g ≡ r mod W), which gives
/// every sample exactly once across ranks in a fixed order whatever the shard sizes.
///
/// With <see cref="LoaderOptions.Format"/> <see cref="BatchFormat.UInt8Nhwc"/> the batches hold uint8 pixels to
/// be normalised on the device: see Note [Uint8 batches] (BatchFormat.cs).
/// </summary>
public sealed class DataLoader
{
    private readonly ConcurrentQueue<byte[]> _samplePool = new();   // one sample's pixels: float32 or uint8, as the format says
    private readonly ConcurrentQueue<HostBatch> _batchPool = new();
    private readonly ImageFolderSource? _folder;

    /// <summary>
    /// Resolves and checks the shards now, so a missing or unreadable one fails before training starts.
    /// A spec that names a folder is read as a class-folder tree (<see cref="ImageFolderSource"/>).
    /// </summary>
    public DataLoader(LoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        if (Directory.Exists(options.Shards))
        {
            _folder = new ImageFolderSource(options.Shards);
            Shards = _folder.ShardNames;
        }
        else
        {
            Shards = ShardList.Resolve(options.Shards);
        }
        if (options.QuarantinePath is { } quarantine)
        {
            // Fail now, not at the first bad sample hours later, if the quarantine list cannot be written.
            string full = Path.GetFullPath(quarantine);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            using (new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { }
        }
        Split = options.Split switch
        {
            RankSplit.Auto => options.Mode == LoaderMode.Eval || Shards.Count < options.WorldSize ? RankSplit.BySample : RankSplit.ByShard,
            var s => s,
        };
    }

    public LoaderOptions Options { get; }
    public IReadOnlyList<string> Shards { get; }
    /// <summary>The split in use (<see cref="RankSplit.Auto"/> resolved).</summary>
    public RankSplit Split { get; }

    private bool Train => Options.Mode == LoaderMode.Train;
    private int SampleElements => Options.Transform.SampleElements;
    private bool Bytes => Options.Format == BatchFormat.UInt8Nhwc;
    private int SampleBytes => Bytes ? SampleElements : sizeof(float) * SampleElements;

    /// <summary>
    /// A hash of everything that decides which samples come in which order: shard names and sizes, seed,
    /// batch size, shuffle settings, rank split and world size. A checkpoint stores it with its
    /// <see cref="LoaderPosition"/>; resuming with a different fingerprint would not reproduce the run.
    /// (Augmentation settings are not included: they change pixels, not order.)
    /// </summary>
    public string Fingerprint()
    {
        var text = new System.Text.StringBuilder();
        text.Append($"mode={Options.Mode};seed={Options.Seed};batch={Options.BatchSize};buffer={Options.ShuffleBuffer};");
        text.Append($"shuffleShards={Options.ShuffleShards};split={Split};world={Options.WorldSize};dropLast={Options.EffectiveDropLast};");
        text.Append($"classes={Options.NumClasses};");
        foreach (var shard in Shards)
        {
            long length = File.Exists(shard) ? new FileInfo(shard).Length : -1;
            text.Append($"{Path.GetFileName(shard)}:{length};");
        }
        if (_folder is not null) text.Append($"folderFiles={_folder.Count};");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    /// <summary>The shard order of an epoch (all ranks): a seeded permutation in training, file order in evaluation.</summary>
    public int[] ShardOrder(int epoch)
    {
        var order = new int[Shards.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (!Train || !Options.ShuffleShards) return order;
        ulong stream = SampleRandom.Stream(StreamPurpose.ShardOrder, epoch, 0);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(((ulong)Philox.Word(Options.Seed, stream, (ulong)i, 0) * (ulong)(i + 1)) >> 32);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>The shards this rank reads in an epoch, in order.</summary>
    public IReadOnlyList<string> RankShards(int epoch) => RankShardIndices(epoch).Select(i => Shards[i]).ToList();

    private List<int> RankShardIndices(int epoch)
    {
        var order = ShardOrder(epoch);
        var mine = new List<int>();
        for (int i = 0; i < order.Length; i++)
            if (Split == RankSplit.BySample || i % Options.WorldSize == Options.Rank) mine.Add(order[i]);
        return mine;
    }

    /// <summary>
    /// This rank's raw samples of an epoch in stream order (after the shuffle buffer, before decoding).
    /// Image buffers are rented: release each sample. Used by the loader's reader and by tools.
    /// </summary>
    public IEnumerable<RawSample> RawStream(int epoch)
    {
        var source = ReadShards(RankShardIndices(epoch));
        if (Train && Options.ShuffleBuffer > 1)
        {
            int streamRank = Split == RankSplit.ByShard ? Options.Rank : 0;
            source = ShuffleBuffer(source, Options.ShuffleBuffer, Options.Seed, SampleRandom.Stream(StreamPurpose.ShuffleBuffer, epoch, streamRank));
        }
        if (Split == RankSplit.BySample && Options.WorldSize > 1)
            source = TakeEvery(source, Options.WorldSize, Options.Rank);
        return source;
    }

    /// <summary>The batches of one epoch from its start.</summary>
    public IEnumerable<HostBatch> ReadEpoch(int epoch) => ReadFrom(LoaderPosition.Start(epoch));

    /// <summary>
    /// The batches of an epoch from <paramref name="position"/> (a batch's <see cref="HostBatch.Next"/>,
    /// saved in a checkpoint). Abandoning the enumeration stops the threads.
    /// </summary>
    public IEnumerable<HostBatch> ReadFrom(LoaderPosition position)
    {
        int epoch = position.Epoch;
        int batchSize = Options.BatchSize;
        long start = position.NextSample >= 0 ? position.NextSample : position.Batch * batchSize;
        if (start < 0 || position.Batch < 0) throw new ArgumentException($"invalid loader position {position}");
        int window = Options.Prefetch > 0 ? Options.Prefetch : 2 * batchSize + 4 * Options.Workers;
        var health = new DataHealth();
        health.Restore(start, position.BadSoFar);

        using var cts = new CancellationTokenSource();
        var reorder = new Reorder(window, start);
        var work = Channel.CreateBounded<(long Index, RawSample Sample)>(new BoundedChannelOptions(window)
        {
            SingleWriter = true,
            SingleReader = Options.Workers == 1,
        });
        var threads = new List<Thread>
        {
            new(() => ReaderLoop(epoch, start, reorder, work.Writer, cts.Token)) { IsBackground = true, Name = "kiln-data-reader" },
        };
        for (int w = 0; w < Options.Workers; w++)
            threads.Add(new Thread(() => WorkerLoop(epoch, reorder, work.Reader, cts.Token)) { IsBackground = true, Name = $"kiln-data-worker-{w}" });
        StreamWriter? quarantine = null;
        try
        {
            foreach (var thread in threads) thread.Start();
            long batchIndex = position.Batch;
            HostBatch? batch = null;
            for (long index = start; reorder.Take(index, out var item); index++)
            {
                if (item.Fault is { } reason)
                {
                    var bad = new BadSample(item.Shard, item.Key, reason, item.Detail, epoch, index);
                    health.AddBad(bad);
                    if (Options.QuarantinePath is { } path)
                    {
                        quarantine ??= new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
                        quarantine.WriteLine(bad.ToLine());
                        quarantine.Flush();
                    }
                    Options.OnEvent?.Invoke(new DataEvent(DataEventKind.BadSample, epoch,
                        $"bad sample {item.Shard}:{item.Key} ({reason}): {item.Detail}", bad, health));
                    CheckBudget(health, epoch, final: false);
                    continue;
                }
                health.AddGood();
                batch ??= RentBatch();
                int n = batch.Count;
                var slot = Bytes ? batch.Bytes.AsSpan(n * SampleElements, SampleElements) : MemoryMarshal.AsBytes(batch.Data.AsSpan(n * SampleElements, SampleElements));
                item.Pixels.AsSpan(0, SampleBytes).CopyTo(slot);
                _samplePool.Enqueue(item.Pixels!);
                batch.Labels[n] = item.Label;
                batch.Keys[n] = item.Key;
                batch.ImageSizes[n] = item.Size;
                batch.Count = n + 1;
                if (batch.Count == batchSize)
                {
                    batch.Index = batchIndex;
                    batch.Next = new LoaderPosition(epoch, batchIndex + 1, index + 1, health.Bad);
                    batchIndex++;
                    var full = batch;
                    batch = null;
                    yield return full;
                }
            }

            CheckBudget(health, epoch, final: true);
            if (health.Good == 0 && start == 0 && health.Seen > 0)
                throw new InvalidDataException($"data: every sample is bad in epoch {epoch} on rank {Options.Rank} " +
                    $"({Shards.Count} shards from '{Options.Shards}'): {health.Summary()}");
            if (health.Seen == 0 && start == 0 && Options.WorldSize == 1)
                throw new InvalidDataException($"data: no samples in {Shards.Count} shards from '{Options.Shards}' (every shard is empty)");
            if (batch is { Count: > 0 } && !Options.EffectiveDropLast)
            {
                batch.Index = batchIndex;
                batch.Next = new LoaderPosition(epoch, batchIndex + 1, health.Seen, health.Bad);
                var last = batch;
                batch = null;
                yield return last;
            }
            batch?.Dispose();
            Options.OnEvent?.Invoke(new DataEvent(DataEventKind.EpochEnd, epoch, $"epoch {epoch} rank {Options.Rank}: {health.Summary()}", Health: health));
        }
        finally
        {
            cts.Cancel();
            reorder.Cancel();
            foreach (var thread in threads)
                if (thread.ThreadState != ThreadState.Unstarted) thread.Join();
            reorder.ReleaseAll(_samplePool);
            while (work.Reader.TryRead(out var pending)) pending.Sample.Release();
            quarantine?.Dispose();
        }
    }

    private void CheckBudget(DataHealth health, int epoch, bool final)
    {
        if (Options.MaxBadCount is long maxCount && health.Bad > maxCount)
            throw new DataBudgetExceededException($"data: more than {maxCount} bad samples in epoch {epoch} on rank {Options.Rank}: {health.Summary()}", health);
        if ((final || health.Seen >= Options.MinSamplesForBadFraction) && health.BadFraction > Options.MaxBadFraction)
            throw new DataBudgetExceededException(
                $"data: bad-sample fraction {100 * health.BadFraction:0.###}% passes the limit {100 * Options.MaxBadFraction:0.###}% " +
                $"in epoch {epoch} on rank {Options.Rank}: {health.Summary()}", health);
    }

    private HostBatch RentBatch()
    {
        if (_batchPool.TryDequeue(out var batch))
        {
            batch.Count = 0;
            return batch;
        }
        var t = Options.Transform;
        Action<HostBatch> giveBack = b => { if (_batchPool.Count < 4) _batchPool.Enqueue(b); };
        if (Bytes)
            return new HostBatch(GC.AllocateUninitializedArray<byte>(Options.BatchSize * SampleElements, pinned: true), Options.BatchSize, t.Views, t.Channels, t.OutputSize, giveBack, t);
        var data = GC.AllocateUninitializedArray<float>(Options.BatchSize * SampleElements, pinned: true);
        return new HostBatch(data, Options.BatchSize, t.Views, t.Channels, t.OutputSize, giveBack, t);
    }

    private void ReaderLoop(int epoch, long start, Reorder reorder, ChannelWriter<(long, RawSample)> writer, CancellationToken ct)
    {
        try
        {
            long index = 0;
            foreach (var sample in RawStream(epoch))
            {
                if (index < start)
                {
                    sample.Release();
                    index++;
                    continue;
                }
                if (!reorder.WaitForRoom(index))
                {
                    sample.Release();
                    return;
                }
                while (!writer.TryWrite((index, sample)))
                {
                    if (!writer.WaitToWriteAsync(ct).AsTask().GetAwaiter().GetResult())
                    {
                        sample.Release();
                        return;
                    }
                }
                index++;
            }
            reorder.SetTotal(index);
            writer.TryComplete();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            reorder.Fail(e);
            writer.TryComplete(e);
        }
    }

    private void WorkerLoop(int epoch, Reorder reorder, ChannelReader<(long Index, RawSample Sample)> reader, CancellationToken ct)
    {
        using var decoder = new ImageDecoder(Options.Limits);
        var transform = Options.Transform;
        ulong stream = SampleRandom.Stream(StreamPurpose.Augment, epoch, Split == RankSplit.ByShard ? Options.Rank : 0);
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var work))
                {
                    if (!reader.WaitToReadAsync(ct).AsTask().GetAwaiter().GetResult()) return;
                    continue;
                }
                var (index, raw) = work;
                try
                {
                    if (raw.Fault is { } fault)
                    {
                        reorder.Put(index, new Decoded(raw.Shard, raw.Key, -1, null, fault, raw.FaultDetail));
                        continue;
                    }
                    if (!_samplePool.TryDequeue(out var pixels)) pixels = new byte[SampleBytes];
                    // Evaluation and BySample: augmentation keyed by the global index so it does not depend on the world size.
                    long key = Split == RankSplit.BySample ? index * Options.WorldSize + Options.Rank : index;
                    var random = new SampleRandom(Options.Seed, stream, key);
                    DecodeResult result;
                    try
                    {
                        result = Bytes
                            ? decoder.Decode(raw.ImageSpan, transform, ref random, pixels.AsSpan())                           // (V, H, W, C) uint8
                            : decoder.Decode(raw.ImageSpan, transform, ref random, MemoryMarshal.Cast<byte, float>(pixels.AsSpan())); // (V, C, H, W) float32
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException)
                    {
                        // A decoder failure we did not classify is still this sample's problem, not the run's: record it with its cause.
                        result = DecodeResult.Bad(BadSampleReason.CorruptImage, $"decoder threw {e.GetType().Name}: {e.Message}");
                    }
                    if (result.Success)
                        reorder.Put(index, new Decoded(raw.Shard, raw.Key, raw.Label, pixels, null, "", decoder.LastImageSize));
                    else
                    {
                        _samplePool.Enqueue(pixels);
                        reorder.Put(index, new Decoded(raw.Shard, raw.Key, -1, null, result.Fault, result.Detail));
                    }
                }
                finally
                {
                    raw.Release();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            reorder.Fail(e);
        }
    }

    private IEnumerable<RawSample> ReadShards(List<int> shards)
    {
        foreach (int shard in shards)
        {
            var samples = _folder is not null
                ? _folder.Read(shard, Options.NumClasses)
                : new ShardReader(Shards[shard], Options.NumClasses, Options.MaxMemberBytes).ReadSamples();
            foreach (var sample in samples) yield return sample;
        }
    }

    /// <summary>WebDataset's shuffle buffer with counter-based picks: pick t uses Philox counter t, so the order is a function of the seed.</summary>
    internal static IEnumerable<RawSample> ShuffleBuffer(IEnumerable<RawSample> source, int capacity, ulong seed, ulong stream)
    {
        var buffer = new List<RawSample>(capacity);
        ulong t = 0;
        try
        {
            foreach (var sample in source)
            {
                if (buffer.Count < capacity)
                {
                    buffer.Add(sample);
                    continue;
                }
                int j = Pick(seed, stream, t++, buffer.Count);
                yield return buffer[j];
                buffer[j] = sample;
            }
            while (buffer.Count > 0)
            {
                int j = Pick(seed, stream, t++, buffer.Count);
                var sample = buffer[j];
                buffer[j] = buffer[^1];
                buffer.RemoveAt(buffer.Count - 1);
                yield return sample;
            }
        }
        finally
        {
            foreach (var sample in buffer) sample.Release(); // only non-empty when the enumeration is abandoned
        }
    }

    private static int Pick(ulong seed, ulong stream, ulong t, int n) => (int)(((ulong)Philox.Word(seed, stream, t, 0) * (ulong)n) >> 32);

    private static IEnumerable<RawSample> TakeEvery(IEnumerable<RawSample> source, int world, int rank)
    {
        long g = 0;
        foreach (var sample in source)
        {
            if (g++ % world == rank) yield return sample;
            else sample.Release();
        }
    }

    /// <summary>A decoded sample, or a bad one.</summary>
    private sealed record Decoded(string Shard, string Key, int Label, byte[]? Pixels, BadSampleReason? Fault, string Detail, (int Width, int Height) Size = default);

    /// <summary>Puts decoded samples back in index order; bounds the samples in flight to the window.</summary>
    private sealed class Reorder(int window, long start)
    {
        private readonly Decoded?[] _slots = new Decoded?[window];
        private readonly long[] _slotIndex = new long[window];
        private readonly object _gate = new();
        private long _next = start, _total = -1;
        private Exception? _failure;
        private bool _cancelled;

        /// <summary>Blocks until <paramref name="index"/> is inside the window; false when cancelled or failed.</summary>
        public bool WaitForRoom(long index)
        {
            lock (_gate)
            {
                while (index - _next >= window && !_cancelled && _failure is null) Monitor.Wait(_gate);
                return !_cancelled && _failure is null;
            }
        }

        public void Put(long index, Decoded item)
        {
            lock (_gate)
            {
                int slot = (int)(index % window);
                _slots[slot] = item;
                _slotIndex[slot] = index;
                Monitor.PulseAll(_gate);
            }
        }

        public void SetTotal(long total)
        {
            lock (_gate) { _total = total; Monitor.PulseAll(_gate); }
        }

        public void Fail(Exception e)
        {
            lock (_gate) { _failure ??= e; Monitor.PulseAll(_gate); }
        }

        public void Cancel()
        {
            lock (_gate) { _cancelled = true; Monitor.PulseAll(_gate); }
        }

        /// <summary>Waits for sample <paramref name="index"/>; false at the end of the stream; rethrows a stage's failure.</summary>
        public bool Take(long index, out Decoded item)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_failure is not null) ExceptionDispatchInfo.Capture(_failure).Throw();
                    int slot = (int)(index % window);
                    if (_slots[slot] is { } found && _slotIndex[slot] == index)
                    {
                        item = found;
                        _slots[slot] = null;
                        _next = index + 1;
                        Monitor.PulseAll(_gate);
                        return true;
                    }
                    if (_total >= 0 && index >= _total)
                    {
                        item = null!;
                        return false;
                    }
                    Monitor.Wait(_gate);
                }
            }
        }

        public void ReleaseAll(ConcurrentQueue<byte[]> pool)
        {
            lock (_gate)
            {
                for (int i = 0; i < _slots.Length; i++)
                {
                    if (_slots[i]?.Pixels is { } pixels) pool.Enqueue(pixels);
                    _slots[i] = null;
                }
            }
        }
    }
}
