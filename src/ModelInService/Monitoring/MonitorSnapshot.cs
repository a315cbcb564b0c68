using System.Text.Json;
using ModelInService.Monitoring;

namespace ModelInService;

/// <summary>
/// The retained intervals of a monitor (profiles as sketch bytes, counts, outcome statistics), exported to persist
/// them or to merge the monitors of several replicas (<see cref="IModelMonitor.MergeSnapshot"/>). Written as a
/// versioned file: JSON header + sketch bytes + checksum.
/// </summary>
/// <remarks>Immutable; thread-safe.</remarks>
public sealed class MonitorSnapshot
{
    internal const uint Magic = 0x534D494D; // "MIMS" little-endian: model-in-service monitor snapshot

    internal MonitorSnapshot(string modelName, TimeSpan intervalLength, DateTimeOffset createdAt, FeatureCatalog catalog, IReadOnlyList<IntervalProfile> intervals)
    {
        ModelName = modelName;
        IntervalLength = intervalLength;
        CreatedAt = createdAt;
        Catalog = catalog;
        Intervals = intervals;
    }

    /// <summary>Gets the model name.</summary>
    public string ModelName { get; }

    /// <summary>Gets the interval length of the monitor that exported it.</summary>
    public TimeSpan IntervalLength { get; }

    /// <summary>Gets when it was exported.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Gets the number of intervals it holds.</summary>
    public int IntervalCount => Intervals.Count;

    /// <summary>Gets the predictions it covers (profiled, dropped and left out by sampling).</summary>
    /// <value>Saturates at <see cref="long.MaxValue"/>.</value>
    public long Predictions
    {
        get
        {
            long total = 0;
            foreach (var interval in Intervals)
            {
                total = interval.Predictions > long.MaxValue - total ? long.MaxValue : total + interval.Predictions;
            }

            return total;
        }
    }

    internal FeatureCatalog Catalog { get; }

    internal IReadOnlyList<IntervalProfile> Intervals { get; }

    /// <summary>Writes the snapshot file.</summary>
    /// <param name="destination">The stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public void WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var blobs = new List<byte[]>();
        var header = new SnapshotHeader
        {
            ModelName = ModelName,
            IntervalTicks = IntervalLength.Ticks,
            CreatedAt = CreatedAt,
            Features = [.. Catalog.All.Select(f => new FeatureEntry { Name = f.Name, Role = FileNames.Role(f.Role), Kind = FileNames.Kind(f.Kind) })],
        };
        foreach (var interval in Intervals)
        {
            var o = interval.Outcomes;
            header.Intervals.Add(new IntervalEntry
            {
                Index = interval.Index,
                Rows = interval.Rows,
                Dropped = interval.Dropped,
                SchemaViolations = interval.SchemaViolations,
                Unsampled = interval.Unsampled,
                Classified = o.Classified,
                Correct = o.Correct,
                Regressed = o.Regressed,
                AbsoluteError = o.AbsoluteError,
                SquaredError = o.SquaredError,
                BinCount = [.. o.BinCount],
                BinConfidence = [.. o.BinConfidence],
                BinCorrect = [.. o.BinCorrect],
                Blobs = [.. Catalog.All.Select(f => FileNames.AddBlob(blobs, interval[f.Id]))],
                Versions = interval.Versions.ToEntries(),
                OtherVersionRows = interval.Versions.OtherRows > 0 ? interval.Versions.OtherRows : null,
            });
        }

        SketchFile.Write(destination, Magic, JsonSerializer.SerializeToUtf8Bytes(header, MonitorJsonContext.Default.SnapshotHeader), blobs);
    }

    /// <summary>Reads a snapshot file, validating it completely.</summary>
    /// <remarks>
    /// Safe for untrusted input: the file is at most 1 GiB (counted as read, seekable or not), holds at most 10,000
    /// intervals with distinct indexes of valid times within 10,000 consecutive intervals, and at most 65,536
    /// features; every sketch blob is referenced once and decoded once, so what is decoded is bounded by a small
    /// multiple of the file's size. See docs/monitoring.md, "Importing snapshots you did not write".
    /// </remarks>
    /// <param name="source">The stream.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="FormatException">The file is truncated, corrupted, of an unknown version, not a snapshot, or
    /// breaks one of the limits above (null or missing values in its header included).</exception>
    public static MonitorSnapshot ReadFrom(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var (headerBytes, blobs) = SketchFile.Read(source, Magic, "monitor snapshot");
        CountEntries(headerBytes);
        SnapshotHeader header;
        try
        {
            header = JsonSerializer.Deserialize(headerBytes, MonitorJsonContext.Default.SnapshotHeader)
                ?? throw new FormatException("Invalid monitor snapshot: empty header.");
        }
        catch (JsonException ex)
        {
            throw new FormatException("Invalid monitor snapshot: bad JSON header.", ex);
        }

        if (header.ModelName is null || header.Features is null || header.Intervals is null)
        {
            throw new FormatException("Invalid monitor snapshot: the header's modelName, features or intervals is null.");
        }

        // The largest interval index whose start is a valid time (DateTimeOffset.MaxValue).
        if (header.IntervalTicks <= 0 || header.IntervalTicks > DateTimeOffset.MaxValue.UtcTicks)
        {
            throw new FormatException("Invalid monitor snapshot: the interval length is not a positive time span.");
        }

        var maxIndex = DateTimeOffset.MaxValue.UtcTicks / header.IntervalTicks;
        var catalog = new FeatureCatalog();
        foreach (var entry in header.Features)
        {
            if (entry?.Name is null)
            {
                throw new FormatException("Invalid monitor snapshot: a feature or its name is null.");
            }

            if (catalog.TryGet(entry.Name, out _))
            {
                throw new FormatException($"Invalid monitor snapshot: feature '{entry.Name}' is listed twice.");
            }

            catalog.GetOrAdd(entry.Name, FileNames.ParseRole(entry.Role ?? "(null)"), FileNames.ParseKind(entry.Kind ?? "(null)"));
        }

        var referenced = new bool[blobs.Count];
        var seen = new HashSet<long>();
        long minIndex = long.MaxValue, newest = long.MinValue;
        foreach (var entry in header.Intervals)
        {
            Validate(entry, catalog.Count, maxIndex, referenced);
            if (!seen.Add(entry.Index))
            {
                throw new FormatException($"Invalid monitor snapshot: interval {entry.Index} is listed twice.");
            }

            minIndex = Math.Min(minIndex, entry.Index);
            newest = Math.Max(newest, entry.Index);
            if (newest - minIndex >= MaxIntervals)
            {
                throw new FormatException($"Invalid monitor snapshot: intervals {minIndex} and {newest} are more than {MaxIntervals:N0} intervals apart (the most a monitor retains).");
            }
        }

        var intervals = new List<IntervalProfile>(header.Intervals.Count);
        foreach (var entry in header.Intervals)
        {
            var interval = new IntervalProfile(entry.Index) { Rows = entry.Rows, Dropped = entry.Dropped, SchemaViolations = entry.SchemaViolations, Unsampled = entry.Unsampled };
            var o = interval.Outcomes;
            o.Classified = entry.Classified;
            o.Correct = entry.Correct;
            o.Regressed = entry.Regressed;
            o.AbsoluteError = entry.AbsoluteError;
            o.SquaredError = entry.SquaredError;
            entry.BinCount.CopyTo(o.BinCount, 0);
            entry.BinConfidence.CopyTo(o.BinConfidence, 0);
            entry.BinCorrect.CopyTo(o.BinCorrect, 0);
            for (var id = 0; id < catalog.Count; id++)
            {
                FileNames.SetBlob(interval, catalog[id], blobs, entry.Blobs[id]);
            }

            interval.Versions.AddEntries(entry.Versions, entry.OtherVersionRows);

            intervals.Add(interval);
        }

        return new MonitorSnapshot(header.ModelName, TimeSpan.FromTicks(header.IntervalTicks), header.CreatedAt, catalog, intervals);
    }

    /// <summary>The most intervals a snapshot holds, and the widest span of their indexes (a monitor retains at most this many).</summary>
    internal const int MaxIntervals = 10_000;

    /// <summary>The most features a snapshot lists.</summary>
    internal const int MaxFeatures = 65_536;

    /// <summary>
    /// Counts the header's intervals and features without materializing anything, so a header of millions of empty
    /// entries (3 bytes of JSON each, hundreds of bytes as objects) is refused before it is deserialized.
    /// </summary>
    private static void CountEntries(byte[] header)
    {
        try
        {
            var reader = new Utf8JsonReader(header);
            var section = 0; // 1 intervals, 2 features
            int intervals = 0, features = 0, versions = 0;
            var inVersions = false; // inside an interval's "versions" array
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                {
                    section = reader.ValueTextEquals("intervals"u8) ? 1 : reader.ValueTextEquals("features"u8) ? 2 : 0;
                    inVersions = false;
                }
                else if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 3 && section == 1)
                {
                    inVersions = reader.ValueTextEquals("versions"u8);
                    versions = 0;
                }
                else if (inVersions && reader.CurrentDepth == 4 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray) && ++versions > VersionRows.MaxVersions)
                {
                    // Each interval names at most MaxVersions versions: thousands are refused before they are materialized.
                    throw new FormatException($"Invalid monitor snapshot: an interval lists more than {VersionRows.MaxVersions} model versions.");
                }
                else if (inVersions && reader.CurrentDepth >= 5 && reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > VersionRows.MaxLength * 6)
                {
                    // Escaped, a valid version takes at most 6 bytes a character; a longer string is refused unread.
                    throw new FormatException($"Invalid monitor snapshot: a model version is longer than {VersionRows.MaxLength} characters.");
                }
                else if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == 2 && section != 0)
                {
                    if (section == 1 && ++intervals > MaxIntervals)
                    {
                        throw new FormatException($"Invalid monitor snapshot: more than {MaxIntervals:N0} intervals.");
                    }

                    if (section == 2 && ++features > MaxFeatures)
                    {
                        throw new FormatException($"Invalid monitor snapshot: more than {MaxFeatures:N0} features.");
                    }
                }
            }
        }
        catch (JsonException ex)
        {
            throw new FormatException("Invalid monitor snapshot: bad JSON header.", ex);
        }
    }

    private static void Validate(IntervalEntry? entry, int features, long maxIndex, bool[] referenced)
    {
        if (entry is null || entry.Blobs is null || entry.BinCount is null || entry.BinConfidence is null || entry.BinCorrect is null)
        {
            throw new FormatException("Invalid monitor snapshot: an interval or one of its arrays is null.");
        }

        if (entry.Index < 0 || entry.Index > maxIndex)
        {
            throw new FormatException($"Invalid monitor snapshot: interval index {entry.Index} is not a valid time.");
        }

        var consistent = entry.Blobs.Count == features
            && entry.BinCount.Length == OutcomeStats.Bins && entry.BinConfidence.Length == OutcomeStats.Bins && entry.BinCorrect.Length == OutcomeStats.Bins
            && entry.Rows >= 0 && entry.Dropped >= 0 && entry.SchemaViolations >= 0 && entry.Unsampled >= 0
            && entry.Rows <= long.MaxValue - entry.Dropped && entry.Rows + entry.Dropped <= long.MaxValue - entry.Unsampled
            && entry.Classified >= 0 && entry.Correct >= 0 && entry.Correct <= entry.Classified && entry.Regressed >= 0
            && entry.AbsoluteError >= 0 && double.IsFinite(entry.AbsoluteError) && entry.SquaredError >= 0 && double.IsFinite(entry.SquaredError);
        for (var i = 0; consistent && i < OutcomeStats.Bins; i++)
        {
            consistent = entry.BinCount[i] >= 0 && entry.BinCorrect[i] >= 0 && entry.BinCorrect[i] <= entry.BinCount[i]
                && entry.BinConfidence[i] >= 0 && double.IsFinite(entry.BinConfidence[i]);
        }

        if (!consistent)
        {
            throw new FormatException($"Invalid monitor snapshot: interval {entry.Index} is inconsistent (array lengths, negative or overflowing counts, or non-finite errors).");
        }

        VersionRows.Validate(entry.Versions, entry.OtherVersionRows, entry.Rows, $"Invalid monitor snapshot: interval {entry.Index}");
        foreach (var blob in entry.Blobs)
        {
            if (blob == -1)
            {
                continue;
            }

            if (blob < 0 || blob >= referenced.Length)
            {
                throw new FormatException($"Invalid monitor snapshot: interval {entry.Index} refers to blob {blob} of {referenced.Length}.");
            }

            // One reference per blob: decoded once, and the decoded size stays proportional to the file.
            if (referenced[blob])
            {
                throw new FormatException($"Invalid monitor snapshot: blob {blob} is referenced more than once.");
            }

            referenced[blob] = true;
        }
    }
}
