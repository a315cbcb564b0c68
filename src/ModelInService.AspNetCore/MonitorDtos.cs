using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelInService.AspNetCore;

// The JSON shapes of the monitor endpoints. NaN has no JSON form, so every "not defined" number is null.

internal sealed class ModelList
{
    public required IReadOnlyList<ModelSummary> Models { get; init; }
}

internal sealed class ModelSummary
{
    public required string Name { get; init; }

    public required IReadOnlyList<WindowInfo> Windows { get; init; }

    public required double IntervalSeconds { get; init; }

    public required double RetentionSeconds { get; init; }

    public ReferenceInfo? Reference { get; init; }

    public required long Recorded { get; init; }

    public required long Dropped { get; init; }

    /// <summary>The views the endpoints serve with <c>?scope=</c>: <c>local</c> always, <c>cluster</c> with a cluster view.</summary>
    public required IReadOnlyList<string> Scopes { get; init; }
}

internal sealed record WindowInfo(string Name, double Seconds);

internal sealed record ReferenceInfo(string Source, long Rows, int Chunks, DateTimeOffset CreatedAt);

internal sealed class ReportDto
{
    public required string Model { get; init; }

    public required string Window { get; init; }

    public required double WindowSeconds { get; init; }

    public required DateTimeOffset Start { get; init; }

    public required DateTimeOffset End { get; init; }

    public required long Predictions { get; init; }

    public required long Dropped { get; init; }

    public required long SchemaViolations { get; init; }

    public double? PredictionsPerMinute { get; init; }

    public double? DriftedShare { get; init; }

    public required bool DatasetDrift { get; init; }

    /// <summary>"drifted", "violations", "stable", "no-reference" or "insufficient-data": the headline of the window.</summary>
    public required string Status { get; init; }

    public required int DriftedFeatures { get; init; }

    public required IReadOnlyList<FeatureDto> Features { get; init; }

    public required IReadOnlyList<ViolationDto> Violations { get; init; }

    public required OutcomeDto Outcomes { get; init; }

    /// <summary>The model versions (SHA-256 prefixes) whose answers the window holds, most rows first; empty when unknown.</summary>
    public IReadOnlyList<VersionRowsDto> Versions { get; init; } = [];

    /// <summary>The window's rows answered by versions beyond the named ones.</summary>
    public long OtherVersionRows { get; init; }

    /// <summary>The model versions of the reference's rows; empty when unknown.</summary>
    public IReadOnlyList<VersionRowsDto> ReferenceVersions { get; init; } = [];

    /// <summary>Says when the window spans several model versions or its version is not the reference's; null otherwise.</summary>
    public string? VersionNote { get; init; }
}

internal sealed record VersionRowsDto(string Version, long Rows);

internal sealed class FeatureDto
{
    public required string Name { get; init; }

    public required string Role { get; init; }

    public required string Kind { get; init; }

    public required long Count { get; init; }

    public required long Missing { get; init; }

    public double? Mean { get; init; }

    public double? StandardDeviation { get; init; }

    public double? Min { get; init; }

    public double? Max { get; init; }

    public required string Metric { get; init; }

    public double? Distance { get; init; }

    public double? DistanceLower { get; init; }

    public double? DistanceUpper { get; init; }

    public double? Threshold { get; init; }

    public double? CalibratedThreshold { get; init; }

    public double? ExitThreshold { get; init; }

    public required FeatureStatus Status { get; init; }

    /// <summary>Reference vs window distribution; null when either side has no data.</summary>
    public DistributionDto? Distribution { get; init; }
}

/// <summary>
/// Numeric: the CDF of both sides at <see cref="Points"/> (x values). Categorical: the share of each of
/// <see cref="Categories"/> on both sides.
/// </summary>
internal sealed class DistributionDto
{
    public IReadOnlyList<double>? Points { get; init; }

    public IReadOnlyList<string>? Categories { get; init; }

    public required IReadOnlyList<double> Reference { get; init; }

    public required IReadOnlyList<double> Current { get; init; }
}

internal sealed record ViolationDto(string Rule, string? Feature, double? Observed, double? Expected, long SampleSize, string Message);

internal sealed record OutcomeDto(long Count, double? Accuracy, double? MeanAbsoluteError, double? RootMeanSquaredError, double? ExpectedCalibrationError);

internal sealed class HistoryDto
{
    public required string Model { get; init; }

    public required string Window { get; init; }

    public required double IntervalSeconds { get; init; }

    /// <summary>The end (exclusive) of each window the distances were computed for.</summary>
    public required IReadOnlyList<DateTimeOffset> Times { get; init; }

    public required IReadOnlyList<FeatureHistoryDto> Features { get; init; }
}

internal sealed class FeatureHistoryDto
{
    public required string Name { get; init; }

    public required string Metric { get; init; }

    public double? Threshold { get; init; }

    public double? ExitThreshold { get; init; }

    /// <summary>One distance per <see cref="HistoryDto.Times"/>; null where the window had too little data.</summary>
    public required IReadOnlyList<double?> Distances { get; init; }
}

internal sealed class ServingFigures
{
    public required string Model { get; init; }

    public required bool Enabled { get; init; }

    public required IReadOnlyDictionary<string, long> Requests { get; init; }

    public required long TotalRequests { get; init; }

    public required Percentiles LatencyMs { get; init; }

    public required Percentiles QueueWaitMs { get; init; }

    public required Percentiles BatchComputeMs { get; init; }

    public required long Batches { get; init; }

    public double? MeanBatchSize { get; init; }

    public double? MaxBatchSize { get; init; }

    public required IReadOnlyList<HistogramBucket> BatchSizeHistogram { get; init; }

    public double? QueueDepth { get; init; }

    public CacheFigures? Cache { get; init; }

    public double? Version { get; init; }
}

internal sealed record HistogramBucket(string Range, long Count);

internal sealed class CacheFigures
{
    public required long Hits { get; init; }

    public required long Misses { get; init; }

    public required long Joins { get; init; }

    public required long Bypasses { get; init; }

    public double? HitRate { get; init; }

    public double? Entries { get; init; }

    public double? Bytes { get; init; }

    public double? Evictions { get; init; }
}

/// <summary>Percentiles of the most recent samples (up to 2,048), scaled (seconds to milliseconds).</summary>
internal sealed class Percentiles
{
    public required long Count { get; init; }

    public required int Samples { get; init; }

    public double? P50 { get; init; }

    public double? P95 { get; init; }

    public double? P99 { get; init; }

    public double? Max { get; init; }

    public static Percentiles From(double[] values, double scale, long total)
    {
        if (values.Length == 0)
        {
            return new Percentiles { Count = total, Samples = 0 };
        }

        Array.Sort(values);
        double At(double q) => values[(int)Math.Min(values.Length - 1, Math.Ceiling(q * values.Length) - 1)] * scale;
        return new Percentiles { Count = total, Samples = values.Length, P50 = At(0.5), P95 = At(0.95), P99 = At(0.99), Max = values[^1] * scale };
    }
}

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ReportDto))]
[JsonSerializable(typeof(HistoryDto))]
[JsonSerializable(typeof(ServingFigures))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class MonitorJsonContext : JsonSerializerContext;
