using Microsoft.Extensions.Options;

namespace ModelInService.Monitoring;

/// <summary>Validates <see cref="MonitoringOptions"/> at start-up.</summary>
internal sealed class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
    public ValidateOptionsResult Validate(string? name, MonitoringOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        void Fail(string message) => failures.Add($"Model '{model}': MonitoringOptions.{message}");

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

            foreach (var window in options.Windows)
            {
                if (window < options.IntervalLength || window.Ticks % options.IntervalLength.Ticks != 0 || window > options.Retention)
                {
                    Fail($"Windows contains {window}; each window must be a whole number of intervals ({options.IntervalLength}) within the retention ({options.Retention}).");
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

        if (options.NumericMetric == MonitorDriftMetric.CramersV)
        {
            Fail("NumericMetric is CramersV, which is categorical only.");
        }

        if (options.CategoricalMetric is MonitorDriftMetric.NormalizedWasserstein or MonitorDriftMetric.KolmogorovSmirnov or MonitorDriftMetric.Hellinger)
        {
            Fail($"CategoricalMetric is {options.CategoricalMetric}, which is numeric only.");
        }

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
        if (!(options.NumericThreshold >= 0) || !(options.CategoricalThreshold >= 0) || !(options.CalibrationSigmas >= 0) || !(options.RangeTolerance >= 0)
            || !double.IsFinite(options.NumericThreshold) || !double.IsFinite(options.CategoricalThreshold) || !double.IsFinite(options.CalibrationSigmas) || !double.IsFinite(options.RangeTolerance))
        {
            Fail("NumericThreshold, CategoricalThreshold, CalibrationSigmas and RangeTolerance must be finite and 0 or more.");
        }

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
            if (double.IsNaN(range.Min) || double.IsNaN(range.Max) || range.Min > range.Max)
            {
                Fail($"Ranges[\"{feature}\"] is [{range.Min}, {range.Max}]; use Min <= Max, neither NaN (an infinity leaves a side open).");
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

        if (options.MinimumSampleSize < 1 || options.ReferenceChunkSize < 1 || options.MaxPendingOutcomes < 0 || options.EvaluationStoreCapacity < 0)
        {
            Fail("MinimumSampleSize and ReferenceChunkSize must be at least 1; MaxPendingOutcomes and EvaluationStoreCapacity 0 or more.");
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
    }
}
