using ModelInService.Sketches;

namespace ModelInService;

/// <summary>One window of a monitor: per-feature statistics and distances to the reference, statuses, violations and outcome metrics.</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class MonitorReport
{
    /// <summary>Gets the model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets the window length.</summary>
    public required TimeSpan Window { get; init; }

    /// <summary>Gets the start of the window's first interval (UTC).</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Gets the end of the window's last interval (UTC, exclusive).</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Gets the predictions made in the window: profiled, dropped and left out by sampling.</summary>
    public required long Predictions { get; init; }

    /// <summary>Gets the predictions dropped from profiling because the queue was full.</summary>
    public required long Dropped { get; init; }

    /// <summary>Gets the predictions left out of profiling by the sampling budget (<see cref="MonitoringOptions.MaxProfiledRowsPerSecond"/>); they count for volume.</summary>
    public long Unsampled { get; init; }

    /// <summary>Gets the requests rejected by the validator in the window, and those whose output was non-finite (<see cref="ModelNonFiniteOutputException"/>).</summary>
    public required long SchemaViolations { get; init; }

    /// <summary>Gets the predictions per minute over the part of the window since recording began (NaN before any interval completed).</summary>
    public required double PredictionsPerMinute { get; init; }

    /// <summary>Gets the features, inputs first.</summary>
    public required IReadOnlyList<FeatureReport> Features { get; init; }

    /// <summary>Gets the data-quality rules that fail in this window.</summary>
    public required IReadOnlyList<QualityViolation> Violations { get; init; }

    /// <summary>Gets the share of judged features (reference and enough data) that drift; NaN when none is judged.</summary>
    public required double DriftedShare { get; init; }

    /// <summary>Gets whether the dataset-level rule reports drift.</summary>
    public required bool DatasetDrift { get; init; }

    /// <summary>Gets the outcome metrics of the window's predictions whose outcome arrived.</summary>
    public required OutcomeReport Outcomes { get; init; }

    /// <summary>Gets how each member of the input and output types is profiled (features one by one, or summaries) and why.</summary>
    public IReadOnlyList<MonitoredMember> MonitoredMembers { get; init; } = [];

    /// <summary>
    /// Gets the model versions whose answers the window's profiled rows are, most rows first (at most 8 per interval
    /// are named; rows of further versions are in <see cref="OtherVersionRows"/>); empty when none is known (rows of
    /// pipelines, streams, or snapshots written before versions were recorded).
    /// </summary>
    public IReadOnlyList<ModelVersionRows> Versions { get; init; } = [];

    /// <summary>Gets the window's profiled rows answered by versions beyond the named ones.</summary>
    public long OtherVersionRows { get; init; }

    /// <summary>
    /// Gets the model versions of the reference's rows (a reference built by <c>BuildReferenceAsync</c> or frozen from
    /// production); empty when unknown (a reference file, or one built from rows).
    /// </summary>
    public IReadOnlyList<ModelVersionRows> ReferenceVersions { get; init; } = [];

    /// <summary>
    /// Gets a note when the window spans several model versions, or its version is not the reference's — then an
    /// output's drift may come from the model change rather than the data (drift is still detected and reported);
    /// null otherwise.
    /// </summary>
    public string? VersionNote { get; init; }

    /// <summary>Finds a feature by name.</summary>
    /// <param name="name">The feature name.</param>
    /// <returns>The feature, or null.</returns>
    public FeatureReport? this[string name]
    {
        get
        {
            foreach (var feature in Features)
            {
                if (feature.Name == name)
                {
                    return feature;
                }
            }

            return null;
        }
    }
}

/// <summary>A model version and the profiled rows it answered (in a window of <see cref="MonitorReport"/>).</summary>
/// <param name="Version">The version: the first 16 hex digits of the model file's SHA-256 (<see cref="ModelVersionInfo.Sha256"/>).</param>
/// <param name="Rows">The profiled rows it answered.</param>
public sealed record ModelVersionRows(string Version, long Rows);

/// <summary>How the monitor profiles one member of the input or output type.</summary>
/// <param name="Member">The member name (the prefix of its features' names).</param>
/// <param name="Role">Input or output.</param>
/// <param name="Treatment">Features one by one, summaries, or dictionary keys.</param>
/// <param name="FeatureCount">The features it gives; -1 while unknown (a vector or dictionary not seen yet).</param>
/// <param name="Description">The decision and its reason, e.g. <c>Features: 100 features Features[0]..Features[99] (input 'input' float32 [batch,100]); tabular input: ...</c>.</param>
public sealed record MonitoredMember(string Member, FeatureRole Role, MonitoredTreatment Treatment, int FeatureCount, string Description);

/// <summary>How a member's values become features.</summary>
public enum MonitoredTreatment
{
    /// <summary>A scalar: one feature.</summary>
    Scalar,

    /// <summary>A vector profiled element by element (<c>Name[0]</c>, <c>Name[1]</c>, ...).</summary>
    PerElement,

    /// <summary>A long vector summarized by its norm, mean and fixed random projections.</summary>
    Summarized,

    /// <summary>A dictionary output: one feature per key, plus top, margin and argmax.</summary>
    Dictionary,

    /// <summary>Not profiled (a categorical vector longer than the limit).</summary>
    NotProfiled,
}

/// <summary>Whether a feature is an input or an output of the model.</summary>
public enum FeatureRole
{
    /// <summary>Derived from the input type.</summary>
    Input = 1,

    /// <summary>Derived from the output type.</summary>
    Output = 2,
}

/// <summary>A feature's drift status.</summary>
public enum FeatureStatus
{
    /// <summary>The reference does not have this feature (or there is no reference).</summary>
    NoReference,

    /// <summary>Fewer observations than <see cref="MonitoringOptions.MinimumSampleSize"/>.</summary>
    InsufficientData,

    /// <summary>Within the threshold.</summary>
    Stable,

    /// <summary>Above the threshold (and not yet below the exit threshold).</summary>
    Drifted,
}

/// <summary>One feature of a window.</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class FeatureReport
{
    /// <summary>Gets the feature name (<c>Member</c>, <c>Member[i]</c>, <c>Member.norm</c>, <c>Member.top</c>, ...).</summary>
    public required string Name { get; init; }

    /// <summary>Gets whether the feature comes from the input or the output.</summary>
    public required FeatureRole Role { get; init; }

    /// <summary>Gets the kind of feature.</summary>
    public required FeatureKind Kind { get; init; }

    /// <summary>Gets all observations, missing ones included.</summary>
    public required long Count { get; init; }

    /// <summary>Gets the missing observations (null; for numeric features also NaN and infinities).</summary>
    public required long MissingCount { get; init; }

    /// <summary>Gets the mean of the finite values (NaN for categorical features).</summary>
    public required double Mean { get; init; }

    /// <summary>Gets the standard deviation of the finite values (NaN for categorical features).</summary>
    public required double StandardDeviation { get; init; }

    /// <summary>Gets the smallest finite value (NaN for categorical features).</summary>
    public required double Min { get; init; }

    /// <summary>Gets the largest finite value (NaN for categorical features).</summary>
    public required double Max { get; init; }

    /// <summary>Gets the thresholded distance.</summary>
    public required MonitorDriftMetric Metric { get; init; }

    /// <summary>Gets the distance to the reference with its error bounds (NaN without reference or data).</summary>
    public required DistanceEstimate Distance { get; init; }

    /// <summary>Gets the threshold above which the feature drifts (the larger of the fixed and the calibrated one).</summary>
    public required double Threshold { get; init; }

    /// <summary>Gets the calibrated threshold from the reference chunks (NaN when not calibrated: <see cref="CalibrationNote"/> says why).</summary>
    public required double CalibratedThreshold { get; init; }

    /// <summary>Gets why <see cref="CalibratedThreshold"/> is NaN and what to change (e.g. a reference smaller than three <see cref="MonitoringOptions.ReferenceChunkSize"/> chunks); null when calibrated.</summary>
    public string? CalibrationNote { get; init; }

    /// <summary>Gets the threshold below which a drifted feature is stable again.</summary>
    public required double ExitThreshold { get; init; }

    /// <summary>Gets the status.</summary>
    public required FeatureStatus Status { get; init; }

    /// <summary>Gets every distance of the comparison (null without reference or data).</summary>
    public FeatureDrift? Drift { get; init; }

    /// <summary>Gets the window's profile of the feature (quantile sketch or category counts, moments), for charts; a copy made for this report (null without data).</summary>
    public FeatureProfile? Profile { get; init; }

    /// <summary>Gets the reference's profile of the feature (null without reference). Shared with the reference: read it, do not change it.</summary>
    public FeatureProfile? ReferenceProfile { get; init; }
}

/// <summary>A data-quality rule that fails in a window.</summary>
/// <param name="Rule">The rule: <c>missing</c>, <c>range</c>, <c>unseen</c>, <c>volume</c> or <c>schema</c>.</param>
/// <param name="Feature">The feature, or null for dataset-level rules.</param>
/// <param name="Observed">The share of values meeting the rule (for volume: the relative change of the rate).</param>
/// <param name="Expected">The rule's <c>mostly</c> (for volume: the tolerance).</param>
/// <param name="SampleSize">The observations judged.</param>
/// <param name="Message">A one-line description.</param>
public sealed record QualityViolation(string Rule, string? Feature, double Observed, double Expected, long SampleSize, string Message);

/// <summary>Outcome metrics of a window: the predictions whose actual value arrived through <see cref="IModelMonitor.RecordOutcome(string, double)"/>.</summary>
/// <param name="Count">Predictions with an outcome.</param>
/// <param name="Accuracy">Share of correct labels (classification; NaN otherwise).</param>
/// <param name="MeanAbsoluteError">Mean absolute error (regression; NaN otherwise).</param>
/// <param name="RootMeanSquaredError">Root mean squared error (regression; NaN otherwise).</param>
/// <param name="ExpectedCalibrationError">Expected calibration error over 10 confidence bins of the top probability (classifiers with probabilities; NaN otherwise).</param>
public sealed record OutcomeReport(long Count, double Accuracy, double MeanAbsoluteError, double RootMeanSquaredError, double ExpectedCalibrationError);

/// <summary>A prediction kept by the evaluation store so people can label what matters.</summary>
/// <param name="PredictionId">The prediction id (null when the input carries none).</param>
/// <param name="Timestamp">When it was recorded.</param>
/// <param name="Inputs">The input features (numbers, or labels for categorical ones).</param>
/// <param name="Prediction">The predicted label or value.</param>
/// <param name="TopProbability">The highest class probability (NaN without probabilities).</param>
/// <param name="Margin">Top minus second probability (NaN without probabilities).</param>
/// <param name="Outcome">The actual label or value once known.</param>
public sealed record EvaluationSample(
    string? PredictionId,
    DateTimeOffset Timestamp,
    IReadOnlyDictionary<string, object?> Inputs,
    string? Prediction,
    double TopProbability,
    double Margin,
    string? Outcome);
