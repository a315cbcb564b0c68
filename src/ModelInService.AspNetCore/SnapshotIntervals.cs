using System.Buffers.Binary;
using System.Text.Json;
using ModelInService.Sketches;

namespace ModelInService.AspNetCore;

/// <summary>
/// The per-interval feature profiles of a <see cref="MonitorSnapshot"/>, read back from its documented file format
/// (docs/monitoring.md: magic, version, JSON header, length-prefixed <see cref="FeatureProfile"/> blobs, checksum).
/// </summary>
/// <remarks>
/// The core exposes a window's merged profiles only inside <see cref="IModelMonitor.GetReport"/> (as bin fractions)
/// and keeps <c>MonitorSnapshot.Intervals</c> internal, so the dashboard reads the exported bytes to draw full CDFs
/// and the distance of past windows. Not thread-safe; build one per request.
/// </remarks>
internal sealed class SnapshotIntervals
{
    private const uint Magic = 0x534D494D; // "MIMS"

    private SnapshotIntervals(long intervalTicks, IReadOnlyList<string> features, SortedDictionary<long, FeatureProfile?[]> intervals)
    {
        IntervalTicks = intervalTicks;
        Features = features;
        Intervals = intervals;
    }

    public long IntervalTicks { get; }

    /// <summary>Feature names, in the order of each interval's profile array.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>Profiles per interval index (UTC ticks / interval ticks); a null profile had no data.</summary>
    public SortedDictionary<long, FeatureProfile?[]> Intervals { get; }

    public static SnapshotIntervals Read(MonitorSnapshot snapshot)
    {
        using var stream = new MemoryStream();
        snapshot.WriteTo(stream);
        return Parse(stream.GetBuffer().AsSpan(0, (int)stream.Length));
    }

    /// <summary>Merges the profiles of one feature over the intervals <paramref name="first"/> to <paramref name="last"/>.</summary>
    /// <returns>The merged profile, or null when no interval holds data for it.</returns>
    public FeatureProfile? Merge(int feature, long first, long last)
    {
        FeatureProfile? merged = null;
        foreach (var (index, profiles) in Intervals)
        {
            if (index < first || index > last || profiles[feature] is not { } profile)
            {
                continue;
            }

            merged ??= profile.Kind == FeatureKind.Numeric ? FeatureProfile.CreateNumeric(profile.Quantiles!.K, new Random(feature)) : FeatureProfile.CreateCategorical();
            merged.Merge(profile);
        }

        return merged;
    }

    public int IndexOf(string feature)
    {
        for (var i = 0; i < Features.Count; i++)
        {
            if (Features[i] == feature)
            {
                return i;
            }
        }

        return -1;
    }

    private static SnapshotIntervals Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 24 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic || BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]) != 1)
        {
            throw new FormatException("Unexpected monitor snapshot format (this dashboard reads version 1).");
        }

        var body = bytes[..^8];
        var offset = 8;
        using var header = JsonDocument.Parse(Slice(body, ref offset).ToArray());
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[offset..]);
        offset += 4;
        var blobs = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            blobs.Add(Slice(body, ref offset).ToArray());
        }

        var root = header.RootElement;
        var features = root.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("name").GetString() ?? "").ToList();
        var intervals = new SortedDictionary<long, FeatureProfile?[]>();
        foreach (var entry in root.GetProperty("intervals").EnumerateArray())
        {
            var profiles = new FeatureProfile?[features.Count];
            var i = 0;
            foreach (var blob in entry.GetProperty("blobs").EnumerateArray())
            {
                var id = blob.GetInt32();
                if (i < profiles.Length && id >= 0 && id < blobs.Count)
                {
                    profiles[i] = FeatureProfile.Deserialize(blobs[id], new Random(i));
                }

                i++;
            }

            intervals[entry.GetProperty("index").GetInt64()] = profiles;
        }

        return new SnapshotIntervals(root.GetProperty("intervalTicks").GetInt64(), features, intervals);
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> body, ref int offset)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(body[offset..]);
        offset += 4;
        if (length < 0 || length > body.Length - offset)
        {
            throw new FormatException("Invalid monitor snapshot: a length exceeds the file.");
        }

        var slice = body.Slice(offset, length);
        offset += length;
        return slice;
    }
}
