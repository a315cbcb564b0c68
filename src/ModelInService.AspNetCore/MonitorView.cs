using System.Globalization;
using ModelInService.Sketches;

namespace ModelInService.AspNetCore;

/// <summary>Turns a monitor's reports into the dashboard's JSON shapes.</summary>
internal static class MonitorView
{
    /// <summary>Points of a numeric CDF.</summary>
    private const int CdfPoints = 41;

    /// <summary>Categories shown per categorical feature (the most frequent of both sides).</summary>
    private const int MaxCategories = 12;

    /// <summary>Most windows drawn in a history chart (the latest ones).</summary>
    private const int MaxHistoryPoints = 60;

    public static ModelSummary Summary(IModelMonitor monitor, MonitoringOptions options, bool hasClusterView)
    {
        var statistics = monitor.Statistics;
        return new ModelSummary
        {
            Name = monitor.ModelName,
            Windows = [.. Windows(options).Select(w => new WindowInfo(FormatWindow(w), w.TotalSeconds))],
            IntervalSeconds = options.IntervalLength.TotalSeconds,
            RetentionSeconds = options.Retention.TotalSeconds,
            Reference = monitor.Reference is { } r ? new ReferenceInfo(r.Source, r.Rows, r.ChunkCount, r.CreatedAt) : null,
            Recorded = statistics.Recorded,
            Dropped = statistics.Dropped,
            Scopes = hasClusterView ? ["local", "cluster"] : ["local"],
        };
    }

    public static IReadOnlyList<TimeSpan> Windows(MonitoringOptions options) =>
        options.Windows.Count > 0 ? [.. options.Windows.Order()] : [options.IntervalLength];

    public static ReportDto Report(IModelMonitor monitor, TimeSpan window)
    {
        var report = monitor.GetReport(window);
        var features = new List<FeatureDto>(report.Features.Count);
        foreach (var f in report.Features)
        {
            features.Add(new FeatureDto
            {
                Name = f.Name,
                Role = f.Role == FeatureRole.Output ? "output" : "input",
                Kind = f.Kind == FeatureKind.Categorical ? "categorical" : "numeric",
                Count = f.Count,
                Missing = f.MissingCount,
                Mean = N(f.Mean),
                StandardDeviation = N(f.StandardDeviation),
                Min = N(f.Min),
                Max = N(f.Max),
                Metric = f.Metric.ToString(),
                Distance = N(f.Distance.Value),
                DistanceLower = N(f.Distance.LowerBound),
                DistanceUpper = N(f.Distance.UpperBound),
                Threshold = N(f.Threshold),
                CalibratedThreshold = N(f.CalibratedThreshold),
                ExitThreshold = N(f.ExitThreshold),
                Status = f.Status,
                Distribution = Distribution(f.ReferenceProfile, f.Profile),
            });
        }

        var drifted = report.Features.Count(f => f.Status == FeatureStatus.Drifted);
        return new ReportDto
        {
            Model = report.ModelName,
            Window = FormatWindow(window),
            WindowSeconds = window.TotalSeconds,
            Start = report.Start,
            End = report.End,
            Predictions = report.Predictions,
            Dropped = report.Dropped,
            SchemaViolations = report.SchemaViolations,
            PredictionsPerMinute = N(report.PredictionsPerMinute),
            DriftedShare = N(report.DriftedShare),
            DatasetDrift = report.DatasetDrift,
            Status = Headline(report, drifted),
            DriftedFeatures = drifted,
            Features = features,
            Violations = [.. report.Violations.Select(v => new ViolationDto(v.Rule, v.Feature, N(v.Observed), N(v.Expected), v.SampleSize, v.Message))],
            Outcomes = new OutcomeDto(report.Outcomes.Count, N(report.Outcomes.Accuracy), N(report.Outcomes.MeanAbsoluteError), N(report.Outcomes.RootMeanSquaredError), N(report.Outcomes.ExpectedCalibrationError)),
            Versions = [.. report.Versions.Select(v => new VersionRowsDto(v.Version, v.Rows))],
            OtherVersionRows = report.OtherVersionRows,
            ReferenceVersions = [.. report.ReferenceVersions.Select(v => new VersionRowsDto(v.Version, v.Rows))],
            VersionNote = report.VersionNote,
        };
    }

    /// <summary>
    /// The distance of the past windows of this length, one per interval end (the latest <see cref="MaxHistoryPoints"/>
    /// within the retention, from the first that holds traffic): each is the monitor's own report of that window
    /// (<see cref="IModelMonitor.GetReport(TimeSpan, DateTimeOffset)"/>), against the current reference and thresholds.
    /// </summary>
    public static HistoryDto History(IModelMonitor monitor, MonitoringOptions options, TimeSpan window)
    {
        // The current window is the last point (and validates the window: a 400 when it is not within the retention).
        var current = monitor.GetReport(window);
        var interval = options.IntervalLength;
        var index = new Dictionary<string, int>(current.Features.Count, StringComparer.Ordinal);
        foreach (var f in current.Features)
        {
            index.TryAdd(f.Name, index.Count);
        }

        // Newest first; only the distances are kept (each report owns a copy of the window's profiles).
        var points = new List<(DateTimeOffset End, bool HasTraffic, double?[] Distances)>(MaxHistoryPoints) { Point(current, index) };
        for (var back = 1; back < MaxHistoryPoints; back++)
        {
            MonitorReport past;
            try
            {
                past = monitor.GetReport(window, current.End - (interval * back));
            }
            catch (ArgumentOutOfRangeException)
            {
                break; // this window, and every earlier one, starts before the retention
            }

            points.Add(Point(past, index));
        }

        // Windows that ended before any traffic (a monitor younger than its retention) are not drawn.
        var drawn = points.FindLastIndex(p => p.HasTraffic) + 1;
        points.RemoveRange(drawn, points.Count - drawn);
        points.Reverse();

        return new HistoryDto
        {
            Model = monitor.ModelName,
            Window = FormatWindow(window),
            IntervalSeconds = interval.TotalSeconds,
            Times = [.. points.Select(p => p.End)],
            Features = [.. current.Features.Select(f => new FeatureHistoryDto
            {
                Name = f.Name,
                Metric = f.Metric.ToString(),
                Threshold = N(f.Threshold),
                ExitThreshold = N(f.ExitThreshold),
                Distances = [.. points.Select(p => p.Distances[index[f.Name]])],
            })],
        };
    }

    /// <summary>The longest window a request may ask for (longer ones are answered 400, not computed).</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(3660);

    /// <summary>Parses <c>15m</c>, <c>1h</c>, <c>90s</c>, <c>900</c> (seconds) or <c>00:15:00</c>, positive and at most <see cref="MaxWindow"/>.</summary>

    public static bool TryParseWindow(string? text, out TimeSpan window)
    {
        window = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var unit = char.ToLowerInvariant(text[^1]);
        var scale = unit switch { 's' => 1.0, 'm' => 60.0, 'h' => 3600.0, 'd' => 86400.0, _ => 0 };
        var number = scale == 0 ? text : text[..^1];
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && !text.Contains(':', StringComparison.Ordinal))
        {
            // Infinity, 1e308 or 99999999d would overflow TimeSpan: a window is at most MaxWindow.
            var seconds = value * (scale == 0 ? 1 : scale);
            if (!double.IsFinite(seconds) || seconds <= 0 || seconds > MaxWindow.TotalSeconds)
            {
                return false;
            }

            window = TimeSpan.FromSeconds(seconds);
            return window > TimeSpan.Zero;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out window) && window > TimeSpan.Zero && window <= MaxWindow;
    }

    public static string FormatWindow(TimeSpan window)
    {
        if (window.Ticks % TimeSpan.TicksPerHour == 0)
        {
            return ((long)window.TotalHours).ToString(CultureInfo.InvariantCulture) + "h";
        }

        if (window.Ticks % TimeSpan.TicksPerMinute == 0)
        {
            return ((long)window.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m";
        }

        return window.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
    }

    private static string Headline(MonitorReport report, int drifted)
    {
        if (report.DatasetDrift || drifted > 0)
        {
            return "drifted";
        }

        if (report.Violations.Count > 0)
        {
            return "violations";
        }

        if (report.Features.Any(f => f.Status == FeatureStatus.Stable))
        {
            return "stable";
        }

        return report.Features.Any(f => f.Status == FeatureStatus.InsufficientData) ? "insufficient-data" : "no-reference";
    }

    /// <summary>One history point: the monitor's distance of each feature (null where the window had too little data or no reference: NaN).</summary>
    private static (DateTimeOffset End, bool HasTraffic, double?[] Distances) Point(MonitorReport report, Dictionary<string, int> index)
    {
        var distances = new double?[index.Count];
        foreach (var f in report.Features)
        {
            if (index.TryGetValue(f.Name, out var i))
            {
                distances[i] = N(f.Distance.Value);
            }
        }

        return (report.End, report.Predictions + report.SchemaViolations > 0, distances);
    }

    private static DistributionDto? Distribution(FeatureProfile? reference, FeatureProfile? current)
    {
        if (reference is null || current is null || reference.Kind != current.Kind)
        {
            return null;
        }

        if (reference.Kind == FeatureKind.Numeric)
        {
            var r = reference.Quantiles!;
            var c = current.Quantiles!;
            if (r.IsEmpty || c.IsEmpty)
            {
                return null;
            }

            var low = Math.Min(r.Min, c.Min);
            var high = Math.Max(r.Max, c.Max);
            var points = new double[high > low ? CdfPoints : 1];
            for (var i = 0; i < points.Length; i++)
            {
                points[i] = points.Length == 1 ? low : low + ((high - low) * i / (points.Length - 1));
            }

            return new DistributionDto
            {
                Points = points,
                Reference = [.. points.Select(x => r.GetRank(x))],
                Current = [.. points.Select(x => c.GetRank(x))],
            };
        }

        var rc = reference.Categories!;
        var cc = current.Categories!;
        if (rc.IsEmpty || cc.IsEmpty)
        {
            return null;
        }

        var categories = rc.GetFrequentItems().Concat(cc.GetFrequentItems())
            .GroupBy(i => i.Category)
            .Select(g => (Category: g.Key, Weight: (double)g.Sum(i => i.Count)))
            .OrderByDescending(g => (rc.GetCount(g.Category).Count / (double)rc.N) + (cc.GetCount(g.Category).Count / (double)cc.N))
            .ThenBy(g => g.Category.ToString(), StringComparer.Ordinal)
            .Take(MaxCategories)
            .Select(g => g.Category)
            .ToList();
        return new DistributionDto
        {
            Categories = [.. categories.Select(c => c.ToString())],
            Reference = [.. categories.Select(c => rc.GetCount(c).Count / (double)rc.N)],
            Current = [.. categories.Select(c => cc.GetCount(c).Count / (double)cc.N)],
        };
    }

    private static double? N(double value) => double.IsFinite(value) ? value : null;
}
