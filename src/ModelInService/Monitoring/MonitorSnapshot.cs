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
    private const uint Magic = 0x534D494D; // "MIMS" little-endian: model-in-service monitor snapshot

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
    public long Predictions => Intervals.Sum(i => i.Predictions);

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
            });
        }

        SketchFile.Write(destination, Magic, JsonSerializer.SerializeToUtf8Bytes(header, MonitorJsonContext.Default.SnapshotHeader), blobs);
    }

    /// <summary>Reads a snapshot file, validating it completely.</summary>
    /// <param name="source">The stream.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="FormatException">The file is truncated, corrupted, of an unknown version, or not a snapshot.</exception>
    public static MonitorSnapshot ReadFrom(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var (headerBytes, blobs) = SketchFile.Read(source, Magic, "monitor snapshot");
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

        if (header.IntervalTicks <= 0)
        {
            throw new FormatException("Invalid monitor snapshot: the interval length is not positive.");
        }

        var catalog = new FeatureCatalog();
        foreach (var entry in header.Features)
        {
            catalog.GetOrAdd(entry.Name, FileNames.ParseRole(entry.Role), FileNames.ParseKind(entry.Kind));
        }

        var intervals = new List<IntervalProfile>();
        foreach (var entry in header.Intervals)
        {
            if (entry.Blobs.Count != catalog.Count || entry.BinCount.Length != OutcomeStats.Bins || entry.BinConfidence.Length != OutcomeStats.Bins || entry.BinCorrect.Length != OutcomeStats.Bins
                || entry.Rows < 0 || entry.Dropped < 0 || entry.SchemaViolations < 0 || entry.Unsampled < 0)
            {
                throw new FormatException($"Invalid monitor snapshot: interval {entry.Index} is inconsistent.");
            }

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

            intervals.Add(interval);
        }

        return new MonitorSnapshot(header.ModelName, TimeSpan.FromTicks(header.IntervalTicks), header.CreatedAt, catalog, intervals);
    }
}
