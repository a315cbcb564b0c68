using System.Text.Json;
using ModelInService.Monitoring;
using ModelInService.Sketches;

namespace ModelInService;

/// <summary>
/// The reference a monitor compares windows with: one profile per feature over the whole reference, plus the same
/// profiles per chunk (consecutive slices of the training data, or the intervals of a frozen window) that calibrate
/// the thresholds. Saved as a versioned file (JSON header + sketch bytes).
/// </summary>
/// <remarks>Immutable once built; thread-safe for reading. Do not modify the profiles returned by <see cref="GetProfile"/>.</remarks>
public sealed class MonitorReference
{
    internal const uint Magic = 0x464D494D; // "MIMF" little-endian: model-in-service monitor reference file

    internal MonitorReference(FeatureCatalog catalog, IntervalProfile total, IReadOnlyList<IntervalProfile> chunks, string source, string? modelName, DateTimeOffset createdAt, double? predictionsPerMinute)
    {
        Catalog = catalog;
        Total = total;
        Chunks = chunks;
        Source = source;
        ModelName = modelName;
        CreatedAt = createdAt;
        PredictionsPerMinute = predictionsPerMinute;
    }

    /// <summary>Gets the model the reference was built for (null when built without one, e.g. from a CSV file).</summary>
    public string? ModelName { get; }

    /// <summary>Gets where the reference came from: <c>training</c>, <c>production</c>, <c>csv</c>, or what the builder said.</summary>
    public string Source { get; }

    /// <summary>Gets when the reference was built.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Gets the rows (predictions) summarized.</summary>
    public long Rows => Total.Rows;

    /// <summary>Gets the reference rate for the volume rule (production references only).</summary>
    public double? PredictionsPerMinute { get; }

    /// <summary>Gets the training rows that <c>BuildReferenceAsync</c> skipped because they failed the model's input validation (they are not in <see cref="Rows"/>).</summary>
    public long SkippedRows { get; internal set; }

    /// <summary>Gets why the first skipped row failed validation (null when none was skipped).</summary>
    public string? SkippedReason { get; internal set; }

    /// <summary>Gets the number of calibration chunks.</summary>
    public int ChunkCount => Chunks.Count;

    /// <summary>Gets the feature names, in the order they were first seen.</summary>
    public IReadOnlyList<string> FeatureNames => [.. Catalog.All.Select(f => f.Name)];

    internal FeatureCatalog Catalog { get; }

    internal IntervalProfile Total { get; }

    internal IReadOnlyList<IntervalProfile> Chunks { get; }

    /// <summary>Gets the profile of a feature over the whole reference.</summary>
    /// <param name="name">The feature name.</param>
    /// <returns>The profile, or null when the reference does not have the feature.</returns>
    public FeatureProfile? GetProfile(string name) => Catalog.TryGet(name, out var id) ? Total[id] : null;

    /// <summary>Writes the reference file.</summary>
    /// <param name="destination">The stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public void Save(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var blobs = new List<byte[]>();
        var header = new ReferenceHeader
        {
            ModelName = ModelName,
            CreatedAt = CreatedAt,
            Source = Source,
            Rows = Rows,
            PredictionsPerMinute = PredictionsPerMinute,
            ChunkRows = [.. Chunks.Select(c => c.Rows)],
            SkippedRows = SkippedRows,
            SkippedReason = SkippedReason,
            Versions = Total.Versions.ToEntries(),
            OtherVersionRows = Total.Versions.OtherRows > 0 ? Total.Versions.OtherRows : null,
        };
        foreach (var feature in Catalog.All)
        {
            header.Features.Add(new FeatureEntry
            {
                Name = feature.Name,
                Role = FileNames.Role(feature.Role),
                Kind = FileNames.Kind(feature.Kind),
                Blob = FileNames.AddBlob(blobs, Total[feature.Id]),
                Chunks = [.. Chunks.Select(c => FileNames.AddBlob(blobs, c[feature.Id]))],
            });
        }

        SketchFile.Write(destination, Magic, JsonSerializer.SerializeToUtf8Bytes(header, MonitorJsonContext.Default.ReferenceHeader), blobs);
    }

    /// <summary>Writes the reference file at <paramref name="path"/> (replacing it).</summary>
    /// <param name="path">The file path.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.Create(path);
        Save(file);
    }

    /// <summary>Reads a reference file, validating it completely.</summary>
    /// <param name="source">The stream.</param>
    /// <returns>The reference.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="FormatException">The file is truncated, corrupted, of an unknown version, or not a reference.</exception>
    public static MonitorReference Load(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var (headerBytes, blobs) = SketchFile.Read(source, Magic, "monitor reference file");
        CountVersions(headerBytes);
        ReferenceHeader header;
        try
        {
            header = JsonSerializer.Deserialize(headerBytes, MonitorJsonContext.Default.ReferenceHeader)
                ?? throw new FormatException("Invalid monitor reference file: empty header.");
        }
        catch (JsonException ex)
        {
            throw new FormatException("Invalid monitor reference file: bad JSON header.", ex);
        }

        ValidateHeader(header, blobs.Count);
        var catalog = new FeatureCatalog();
        var total = new IntervalProfile(0) { Rows = header.Rows };
        total.Versions.AddEntries(header.Versions, header.OtherVersionRows);
        var chunks = header.ChunkRows.Select((rows, i) => new IntervalProfile(i + 1) { Rows = rows }).ToList();
        foreach (var entry in header.Features)
        {
            var id = catalog.GetOrAdd(entry.Name, FileNames.ParseRole(entry.Role), FileNames.ParseKind(entry.Kind));
            var feature = catalog[id];
            FileNames.SetBlob(total, feature, blobs, entry.Blob);
            var chunkBlobs = entry.Chunks ?? [];
            for (var i = 0; i < chunks.Count; i++)
            {
                FileNames.SetBlob(chunks[i], feature, blobs, chunkBlobs[i]);
            }
        }

        return new MonitorReference(catalog, total, chunks, header.Source, header.ModelName, header.CreatedAt, header.PredictionsPerMinute)
        {
            SkippedRows = header.SkippedRows,
            SkippedReason = header.SkippedReason,
        };
    }

    /// <summary>
    /// Refuses a header with more than <see cref="VersionRows.MaxVersions"/> model versions, or a version string
    /// longer than <see cref="VersionRows.MaxLength"/> characters, before it is deserialized (nothing materialized).
    /// </summary>
    private static void CountVersions(byte[] header)
    {
        try
        {
            var reader = new Utf8JsonReader(header);
            var inVersions = false;
            var versions = 0;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                {
                    inVersions = reader.ValueTextEquals("versions"u8);
                }
                else if (inVersions && reader.CurrentDepth == 2 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray) && ++versions > VersionRows.MaxVersions)
                {
                    throw new FormatException($"Invalid monitor reference file: the reference lists more than {VersionRows.MaxVersions} model versions.");
                }
                else if (inVersions && reader.CurrentDepth >= 3 && reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > VersionRows.MaxLength * 6)
                {
                    throw new FormatException($"Invalid monitor reference file: a model version is longer than {VersionRows.MaxLength} characters.");
                }
            }
        }
        catch (JsonException ex)
        {
            throw new FormatException("Invalid monitor reference file: bad JSON header.", ex);
        }
    }

    /// <summary>
    /// Checks the whole header before anything is decoded: no null lists or names, counts that are not negative, at
    /// most <see cref="MonitorSnapshot.MaxIntervals"/> chunks and <see cref="MonitorSnapshot.MaxFeatures"/> features,
    /// every feature with one blob per chunk, and every blob referenced at most once (so what is decoded is bounded by
    /// the file's size, as for snapshots).
    /// </summary>
    private static void ValidateHeader(ReferenceHeader header, int blobCount)
    {
        if (header.ChunkRows is null || header.Features is null || header.Source is null)
        {
            throw new FormatException("Invalid monitor reference file: the header's chunkRows, features or source is null.");
        }

        if (header.Rows < 0 || header.SkippedRows < 0)
        {
            throw new FormatException("Invalid monitor reference file: a negative row count.");
        }

        VersionRows.Validate(header.Versions, header.OtherVersionRows, header.Rows, "Invalid monitor reference file: the reference");
        if (header.ChunkRows.Count > MonitorSnapshot.MaxIntervals)
        {
            throw new FormatException($"Invalid monitor reference file: more than {MonitorSnapshot.MaxIntervals:N0} chunks.");
        }

        if (header.Features.Count > MonitorSnapshot.MaxFeatures)
        {
            throw new FormatException($"Invalid monitor reference file: more than {MonitorSnapshot.MaxFeatures:N0} features.");
        }

        foreach (var rows in header.ChunkRows)
        {
            if (rows < 0)
            {
                throw new FormatException("Invalid monitor reference file: a negative chunk row count.");
            }
        }

        var referenced = new bool[blobCount];
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in header.Features)
        {
            if (entry?.Name is null || entry.Role is null || entry.Kind is null)
            {
                throw new FormatException("Invalid monitor reference file: a feature, its name, role or kind is null.");
            }

            if (!names.Add(entry.Name))
            {
                throw new FormatException($"Invalid monitor reference file: feature '{entry.Name}' is listed twice.");
            }

            var chunkCount = entry.Chunks?.Count ?? 0;
            if (chunkCount != header.ChunkRows.Count)
            {
                throw new FormatException($"Invalid monitor reference file: feature '{entry.Name}' has {chunkCount} chunks, the file {header.ChunkRows.Count}.");
            }

            Reference(entry.Blob, entry.Name, referenced);
            for (var i = 0; i < chunkCount; i++)
            {
                Reference(entry.Chunks![i], entry.Name, referenced);
            }
        }

        static void Reference(int blob, string name, bool[] referenced)
        {
            if (blob == -1)
            {
                return;
            }

            if (blob < 0 || blob >= referenced.Length)
            {
                throw new FormatException($"Invalid monitor reference file: feature '{name}' refers to blob {blob} of {referenced.Length}.");
            }

            if (referenced[blob])
            {
                throw new FormatException($"Invalid monitor reference file: blob {blob} is referenced more than once.");
            }

            referenced[blob] = true;
        }
    }

    /// <summary>Reads the reference file at <paramref name="path"/>.</summary>
    /// <param name="path">The file path.</param>
    /// <returns>The reference.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="FormatException">The file is not a valid reference.</exception>
    public static MonitorReference Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        return Load(file);
    }
}

/// <summary>
/// Builds a <see cref="MonitorReference"/> from named values, row by row (a CSV file, a feature store, a notebook's
/// export). Use the feature names the monitor uses (see docs/monitoring.md: <c>Member</c>, <c>Member[i]</c>, ...).
/// </summary>
/// <remarks>Not thread-safe.</remarks>
public sealed class MonitorReferenceBuilder
{
    private readonly ReferenceAccumulator _accumulator;
    private long _skipped;
    private string? _firstSkipReason;

    /// <summary>Creates a builder.</summary>
    /// <param name="chunkSize">Rows per calibration chunk (set it near a window's expected volume).</param>
    /// <param name="sketchK">KLL accuracy parameter of the numeric sketches.</param>
    /// <param name="seed">Seed of the sketches' compaction.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is less than 1.</exception>
    public MonitorReferenceBuilder(int chunkSize = 1_000, int sketchK = KllSketch.DefaultK, int seed = 20250101)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        _accumulator = new ReferenceAccumulator(new FeatureCatalog(), new ProfileFactory(sketchK, seed), chunkSize);
    }

    /// <summary>Gets the rows ended so far.</summary>
    public long Rows => _accumulator.Rows;

    /// <summary>Records a value of a numeric feature in the current row (NaN and infinities count as missing).</summary>
    /// <param name="feature">The feature name.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The feature was recorded as categorical before.</exception>
    public void AddNumeric(string feature, double value) => Profile(feature, FeatureKind.Numeric).Update(value);

    /// <summary>Records a label of a categorical feature in the current row; null counts as missing.</summary>
    /// <param name="feature">The feature name.</param>
    /// <param name="label">The label.</param>
    /// <exception cref="ArgumentException">The feature was recorded as numeric before.</exception>
    public void AddCategorical(string feature, string? label) => Profile(feature, FeatureKind.Categorical).Update(label);

    /// <summary>Records a missing value of a numeric feature in the current row.</summary>
    /// <param name="feature">The feature name.</param>
    public void AddMissing(string feature) => Profile(feature, FeatureKind.Numeric).UpdateNull();

    /// <summary>Ends the current row (and the chunk, every chunk-size rows).</summary>
    public void EndRow() => _accumulator.EndRows(1);

    /// <summary>Builds the reference from the rows so far.</summary>
    /// <param name="source">What the data is, e.g. <c>csv</c>.</param>
    /// <param name="modelName">The model it is for, if any.</param>
    /// <param name="createdAt">The creation time to record (default: now).</param>
    /// <returns>The reference.</returns>
    public MonitorReference Build(string source = "custom", string? modelName = null, DateTimeOffset? createdAt = null)
    {
        var reference = _accumulator.Build(source, modelName, createdAt ?? DateTimeOffset.UtcNow, null);
        reference.SkippedRows = _skipped;
        reference.SkippedReason = _firstSkipReason;
        return reference;
    }

    /// <summary>
    /// Counts a source row left out because it was invalid (instead of <see cref="EndRow"/>); the built reference
    /// records the count and the first reason, as <c>BuildReferenceAsync</c> does (<see cref="MonitorReference.SkippedRows"/>).
    /// </summary>
    /// <param name="reason">Why the row was left out, e.g. <c>line 12: column 'x': 'abc' is not a number</c>.</param>
    public void SkipRow(string reason)
    {
        _skipped++;
        _firstSkipReason ??= reason;
    }

    private FeatureProfile Profile(string feature, FeatureKind kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(feature);
        var catalog = _accumulator.Catalog;
        if (catalog.TryGet(feature, out var existing) && catalog[existing].Kind != kind)
        {
            throw new ArgumentException($"Feature '{feature}' was recorded as {catalog[existing].Kind} before.", nameof(feature));
        }

        var id = catalog.GetOrAdd(feature, FeatureRole.Input, kind);
        return _accumulator.Current.GetOrCreate(catalog[id], _accumulator.Factory);
    }
}

/// <summary>Accumulates reference rows into consecutive chunks and their total.</summary>
internal sealed class ReferenceAccumulator(FeatureCatalog catalog, ProfileFactory factory, int chunkSize)
{
    private readonly List<IntervalProfile> _chunks = [];
    private readonly IntervalProfile _total = new(0);

    public FeatureCatalog Catalog { get; } = catalog;

    public ProfileFactory Factory { get; } = factory;

    public int ChunkSize { get; } = chunkSize;

    /// <summary>The chunk being filled.</summary>
    public IntervalProfile Current { get; private set; } = new(1);

    public long Rows => _total.Rows + Current.Rows;

    /// <summary>Rows the current chunk can still take.</summary>
    public int Room => ChunkSize - (int)Current.Rows;

    public void EndRows(int rows)
    {
        Current.Rows += rows;
        if (Current.Rows >= ChunkSize)
        {
            CloseChunk();
        }
    }

    /// <summary>Counts rows already added to <see cref="Current"/> by a decoder (which counts them itself).</summary>
    public void AfterDecode()
    {
        if (Current.Rows >= ChunkSize)
        {
            CloseChunk();
        }
    }

    public MonitorReference Build(string source, string? modelName, DateTimeOffset createdAt, double? rate)
    {
        if (Current.Rows > 0)
        {
            // A short tail joins the total but is a chunk only if it is at least half a chunk (a tiny chunk's noise would inflate sigma).
            var tail = Current;
            _total.MergeFrom(tail, Catalog, Factory);
            if (tail.Rows * 2 >= ChunkSize)
            {
                _chunks.Add(tail);
            }

            Current = new IntervalProfile(_chunks.Count + 1);
        }

        return new MonitorReference(Catalog, _total, [.. _chunks], source, modelName, createdAt, rate);
    }

    private void CloseChunk()
    {
        _total.MergeFrom(Current, Catalog, Factory);
        _chunks.Add(Current);
        Current = new IntervalProfile(_chunks.Count + 1);
    }
}

/// <summary>Names of roles and kinds in file headers, and blob helpers.</summary>
internal static class FileNames
{
    public static string Role(FeatureRole role) => role == FeatureRole.Output ? "output" : "input";

    public static string Kind(FeatureKind kind) => kind == FeatureKind.Categorical ? "categorical" : "numeric";

    public static FeatureRole ParseRole(string role) => role switch
    {
        "input" => FeatureRole.Input,
        "output" => FeatureRole.Output,
        _ => throw new FormatException($"Invalid feature role '{role}'."),
    };

    public static FeatureKind ParseKind(string kind) => kind switch
    {
        "numeric" => FeatureKind.Numeric,
        "categorical" => FeatureKind.Categorical,
        _ => throw new FormatException($"Invalid feature kind '{kind}'."),
    };

    public static int AddBlob(List<byte[]> blobs, FeatureProfile? profile)
    {
        if (profile is null || profile.TotalCount == 0)
        {
            return -1;
        }

        blobs.Add(profile.ToByteArray());
        return blobs.Count - 1;
    }

    public static void SetBlob(IntervalProfile target, FeatureInfo feature, List<byte[]> blobs, int blob)
    {
        if (blob == -1)
        {
            return;
        }

        if (blob < 0 || blob >= blobs.Count)
        {
            throw new FormatException($"Invalid file: feature '{feature.Name}' refers to blob {blob} of {blobs.Count}.");
        }

        var profile = FeatureProfile.Deserialize(blobs[blob], new Random(feature.Id));
        if (profile.Kind != feature.Kind)
        {
            throw new FormatException($"Invalid file: feature '{feature.Name}' is {feature.Kind} but its sketch is {profile.Kind}.");
        }

        target.Set(feature, profile);
    }
}
