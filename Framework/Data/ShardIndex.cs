namespace Kiln.Data;

/// <summary>Counts samples without decoding: reads tar headers only and seeks over the member data.</summary>
public static class ShardIndex
{
    /// <summary>
    /// Number of label members (<c>.cls</c>, <c>.label</c>, <c>.cls.txt</c>) in a tar shard: one per
    /// sample as written by <see cref="ShardWriter"/>. Stops quietly at a truncated or damaged header
    /// (the loader reports those); used to size epochs for schedules and progress.
    /// </summary>
    public static long CountSamples(string shardPath)
    {
        using var fs = new FileStream(shardPath, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.RandomAccess);
        Span<byte> header = stackalloc byte[512];
        long count = 0;
        while (fs.Position + 512 <= fs.Length)
        {
            fs.ReadExactly(header);
            if (header[0] == 0) break;
            int nameEnd = header[..100].IndexOf((byte)0);
            string name = System.Text.Encoding.UTF8.GetString(header[..(nameEnd < 0 ? 100 : nameEnd)]);
            long size = 0;
            foreach (byte b in header.Slice(124, 12))
            {
                if (b is (byte)' ' or 0) { if (size > 0) break; continue; }
                if (b is < (byte)'0' or > (byte)'7') return count;
                size = size * 8 + (b - '0');
            }
            byte type = header[156];
            if ((type is 0 or (byte)'0') && (name.EndsWith(".cls", StringComparison.OrdinalIgnoreCase)
                || name.EndsWith(".label", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".cls.txt", StringComparison.OrdinalIgnoreCase)))
                count++;
            long next = fs.Position + (size + 511) / 512 * 512;
            if (next > fs.Length) break;
            fs.Position = next;
        }
        return count;
    }

    /// <summary>Samples in every shard of a spec (a class-folder tree counts its files).</summary>
    public static long CountSamples(IReadOnlyList<string> shards) => shards.Sum(s => File.Exists(s) ? CountSamples(s) : 0);
}
