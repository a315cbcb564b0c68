using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelInService.Monitoring;

/// <summary>
/// Validates <see cref="MonitoringOptions"/> at start-up. Each failure is its own entry of
/// <see cref="ValidateOptionsResult.Failures"/>, about one option, and starts with the model and the option's path
/// (<c>Model 'iris': MonitoringOptions.Ranges["SepalLength"]: ...</c>); numbers are written in the invariant culture.
/// </summary>
internal sealed class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
    /// <summary>The metrics of numeric features (every metric but the categorical-only one).</summary>
    private static readonly MonitorDriftMetric[] NumericMetrics = [.. Enum.GetValues<MonitorDriftMetric>().Where(m => m != MonitorDriftMetric.CramersV)];

    /// <summary>The metrics of categorical features (every metric but the numeric-only ones).</summary>
    private static readonly MonitorDriftMetric[] CategoricalMetrics =
        [.. Enum.GetValues<MonitorDriftMetric>().Where(m => m is not (MonitorDriftMetric.NormalizedWasserstein or MonitorDriftMetric.KolmogorovSmirnov or MonitorDriftMetric.Hellinger))];

    public ValidateOptionsResult Validate(string? name, MonitoringOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        void Fail(FormattableString message) => failures.Add($"Model '{model}': MonitoringOptions.{message.ToString(CultureInfo.InvariantCulture)}");

        if (options.IntervalLength < TimeSpan.FromSeconds(1))
        {
            Fail($"IntervalLength is {options.IntervalLength}; use at least 1 second.");
        }
        else
        {
            if (options.Retention < options.IntervalLength || options.Retention.Ticks / options.IntervalLength.Ticks > 10_000)
            {
                Fail($"Retention is {options.Retention}; use 1 to 10,000 intervals of {options.IntervalLength}.");
            }

            for (var i = 0; i < options.Windows.Count; i++)
            {
                var window = options.Windows[i];
                if (window < options.IntervalLength || window.Ticks % options.IntervalLength.Ticks != 0 || window > options.Retention)
                {
                    Fail($"Windows[{i}] is {window}; each window must be a whole number of intervals ({options.IntervalLength}) within the retention ({options.Retention}).");
                }
            }
        }

        if (options.EvaluationInterval <= TimeSpan.Zero)
        {
            Fail($"EvaluationInterval is {options.EvaluationInterval}; use a positive time.");
        }

        if (options.HandlerTimeout <= TimeSpan.Zero)
        {
            Fail($"HandlerTimeout is {options.HandlerTimeout}; use a positive time.");
        }

        if (options.MaxProfiledRowsPerSecond < 0)
        {
            Fail($"MaxProfiledRowsPerSecond is {options.MaxProfiledRowsPerSecond}; use 0 (profile every prediction) or a positive budget.");
        }

        if (options.QueueCapacity < 512)
        {
            Fail($"QueueCapacity is {options.QueueCapacity}; use at least 512.");
        }

        if (options.MaxVectorElements is < 0 or > 4096)
        {
            Fail($"MaxVectorElements is {options.MaxVectorElements}; use 0 to 4096.");
        }

        if (options.MaxTabularFeatures is < 0 or > NumberVectors.MaxRecordedElements)
        {
            Fail($"MaxTabularFeatures is {options.MaxTabularFeatures}; use 0 to {NumberVectors.MaxRecordedElements} (wider tabular inputs are summarized).");
        }

        if (options.ProjectionCount is < 0 or > 64)
        {
            Fail($"ProjectionCount is {options.ProjectionCount}; use 0 to 64.");
        }

        if (options.SketchK is < 8 or > 65535)
        {
            Fail($"SketchK is {options.SketchK}; use 8 to 65535.");
        }

        // An undefined value (NumericMetric = 42: the configuration binder parses numbers too, and a cast is not
        // checked) would pass the checks below and fail, or do something else, at the first evaluation.
        CheckMetric(options.NumericMetric, nameof(options.NumericMetric), NumericMetrics, "categorical only");
        CheckMetric(options.CategoricalMetric, nameof(options.CategoricalMetric), CategoricalMetrics, "numeric only");

        CheckFraction(options.NotMissingMostly, nameof(options.NotMissingMostly));
        CheckFraction(options.RangeMostly, nameof(options.RangeMostly));
        if (!(options.QualityConfidence is >= 0.5 and < 1))
        {
            Fail($"QualityConfidence is {options.QualityConfidence}; use a confidence from 0.5 up to (not including) 1, e.g. 0.999.");
        }

        CheckFraction(options.KnownCategoryMostly, nameof(options.KnownCategoryMostly));
        CheckFraction(options.SchemaMostly, nameof(options.SchemaMostly));
        CheckFraction(options.ExitRatio, nameof(options.ExitRatio));
        CheckFraction(options.DatasetDriftShare, nameof(options.DatasetDriftShare));
        CheckNonNegative(options.NumericThreshold, nameof(options.NumericThreshold));
        CheckNonNegative(options.CategoricalThreshold, nameof(options.CategoricalThreshold));
        CheckNonNegative(options.CalibrationSigmas, nameof(options.CalibrationSigmas));
        CheckNonNegative(options.RangeTolerance, nameof(options.RangeTolerance));

        // A NaN threshold can never be exceeded (the feature could never drift) and a NaN bound fails every evaluation:
        // refused here rather than found in production.
        foreach (var (feature, threshold) in options.FeatureThresholds)
        {
            if (!(threshold >= 0) || !double.IsFinite(threshold))
            {
                Fail($"FeatureThresholds[\"{feature}\"] is {threshold}; use a finite distance, 0 or more.");
            }
        }

        foreach (var (feature, range) in options.Ranges)
        {
            if (double.IsNaN(range.Min) || double.IsNaN(range.Max))
            {
                Fail($"Ranges[\"{feature}\"] is [{range.Min}, {range.Max}]; use Min <= Max, neither NaN (an infinity leaves a side open).");
            }
            else if (range.Min > range.Max)
            {
                Fail($"Ranges[\"{feature}\"]: Min {range.Min} > Max {range.Max}; use Min <= Max (an infinity leaves a side open).");
            }
        }

        if (options.ExpectedPredictionsPerMinute is { } expected && !(expected > 0 && double.IsFinite(expected)))
        {
            Fail($"ExpectedPredictionsPerMinute is {expected}; use a positive rate, or null to take the reference's rate.");
        }

        if (options.VolumeTolerance is { } tolerance && !(tolerance > 0))
        {
            Fail($"VolumeTolerance is {tolerance}; use a positive fraction or null.");
        }

        if (options.MinimumSampleSize < 1)
        {
            Fail($"MinimumSampleSize is {options.MinimumSampleSize}; use at least 1.");
        }

        if (options.ReferenceChunkSize < 1)
        {
            Fail($"ReferenceChunkSize is {options.ReferenceChunkSize}; use at least 1.");
        }

        if (options.MaxPendingOutcomes < 0)
        {
            Fail($"MaxPendingOutcomes is {options.MaxPendingOutcomes}; use 0 or more.");
        }

        if (options.EvaluationStoreCapacity < 0)
        {
            Fail($"EvaluationStoreCapacity is {options.EvaluationStoreCapacity}; use 0 (no store) or more.");
        }

        if (options.MaxSnapshotClockSkew < TimeSpan.Zero || options.MaxSnapshotClockSkew > TimeSpan.FromDays(1))
        {
            Fail($"MaxSnapshotClockSkew is {options.MaxSnapshotClockSkew}; use 0 to 1 day (how far ahead of this clock a merged snapshot's intervals may be).");
        }

        if (options.MaxImportedFeatures is < 0 or > MonitorSnapshot.MaxFeatures)
        {
            Fail($"MaxImportedFeatures is {options.MaxImportedFeatures}; use 0 to {MonitorSnapshot.MaxFeatures:N0}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void CheckFraction(double value, string property)
        {
            if (!(value is >= 0 and <= 1))
            {
                Fail($"{property} is {value}; use a fraction between 0 and 1.");
            }
        }

        void CheckNonNegative(double value, string property)
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                Fail($"{property} is {value}; use a finite number, 0 or more.");
            }
        }

        void CheckMetric(MonitorDriftMetric metric, string property, MonitorDriftMetric[] allowed, string otherKind)
        {
            if (!Enum.IsDefined(metric))
            {
                Fail($"{property} is {(int)metric}, which is not a MonitorDriftMetric; use one of {string.Join(", ", allowed)}.");
            }
            else if (Array.IndexOf(allowed, metric) < 0)
            {
                Fail($"{property} is {metric}, which is {otherKind}; use one of {string.Join(", ", allowed)}.");
            }
        }
    }
}
