namespace ModelInService;

/// <summary>
/// Options of a model's monitor (named options; the name is the model name), set with
/// <c>UseMonitoring(o =&gt; ...)</c>. Validated at start-up. See docs/monitoring.md.
/// </summary>
/// <remarks>Configure before the host starts; the monitor reads the options once when it is created.</remarks>
public sealed class MonitoringOptions
{
    /// <summary>Gets or sets the length of one interval: the unit of recording, retention and persistence. Intervals are aligned to UTC multiples of this length, so replicas' intervals line up when merged.</summary>
    /// <value>Default 1 minute.</value>
    public TimeSpan IntervalLength { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how much history the in-memory ring of interval profiles keeps (rounded up to whole intervals, at most 10,000).</summary>
    /// <value>Default 1 hour.</value>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets the measurement windows evaluated against the reference: each is the merge of the last whole intervals it covers (the current, incomplete interval is excluded). Each must be a multiple of <see cref="IntervalLength"/> and at most <see cref="Retention"/>.</summary>
    /// <value>Default 15 minutes and 1 hour.</value>
    public IList<TimeSpan> Windows { get; } = [TimeSpan.FromMinutes(15), TimeSpan.FromHours(1)];

    /// <summary>Gets or sets how often the hosted service evaluates the windows, raises events and writes snapshots.</summary>
    /// <value>Default 1 minute.</value>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how many recorded predictions may wait for the background consumer. When the queue is full, whole blocks of recent predictions are dropped (and counted): recording never blocks a prediction.</summary>
    /// <value>Default 65,536.</value>
    public int QueueCapacity { get; set; } = 65_536;

    /// <summary>
    /// Gets or sets the sampling budget: at most this many predictions per second are profiled; above it, predictions
    /// are sampled evenly in time and the rest only counted (for the volume rule; <see cref="MonitorReport.Unsampled"/>).
    /// Keeps the monitor's CPU cost bounded on cheap, fast models (a profiled row costs about 0.3 µs per 10 features on
    /// the consumer, more for wide vectors). A burst of up to one second's budget is profiled whole; rows that carry a
    /// prediction id (<see cref="PredictionIdMember"/>) are always profiled. 0 profiles every prediction.
    /// </summary>
    /// <value>Default 10,000 per second (600,000 per one-minute interval: sketch error, not sample size, dominates).</value>
    public int MaxProfiledRowsPerSecond { get; set; } = 10_000;

    /// <summary>Gets or sets the longest vector recorded element by element (<c>Features[0]</c>, ...) when it is not a tabular input (see <see cref="MaxTabularFeatures"/>): outputs, images and other inputs of rank 3 or more, sequences whose length varies. Longer vectors are summarized by their L2 norm, mean and <see cref="ProjectionCount"/> fixed random projections. Also the most keys recorded per dictionary output.</summary>
    /// <value>Default 16.</value>
    public int MaxVectorElements { get; set; } = 16;

    /// <summary>Gets or sets the widest tabular input profiled feature by feature (<c>Features[0]</c> ... <c>Features[F-1]</c>). A numeric vector input is tabular when the model tensor it binds to is <c>[batch, F]</c> with a fixed F (or, without a model signature, a plain vector). Wider ones are summarized like other long vectors (see <see cref="MaxVectorElements"/>).</summary>
    /// <value>Default 256 (a 100-feature input costs about 100 profile updates per row on the monitor's consumer; see docs/monitoring.md).</value>
    public int MaxTabularFeatures { get; set; } = 256;

    /// <summary>Gets or sets the number of fixed random projections (seeded by <see cref="Seed"/>) recorded for a long vector.</summary>
    /// <value>Default 4.</value>
    public int ProjectionCount { get; set; } = 4;

    /// <summary>Gets or sets the seed of the random projections, the sketches' compaction and the evaluation store's sampling.</summary>
    /// <value>Default 20250101.</value>
    public int Seed { get; set; } = 20250101;

    /// <summary>Gets or sets the KLL accuracy parameter of the numeric sketches (200: about 1.3% rank error).</summary>
    /// <value>Default 200.</value>
    public int SketchK { get; set; } = 200;

    /// <summary>Gets the names of integer members recorded as categories (codes) instead of numbers. Strings and booleans are always categorical; scalar integer outputs (labels) are categorical too.</summary>
    /// <remarks>Names compare case-insensitively, like configuration keys. A name that is no member of the model is logged as a warning at start-up, with the nearest member's name (see docs/monitoring.md).</remarks>
    public ISet<string> CategoricalFeatures { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the distance used for numeric features.</summary>
    /// <value>Default <see cref="MonitorDriftMetric.NormalizedWasserstein"/> (Evidently's default).</value>
    public MonitorDriftMetric NumericMetric { get; set; } = MonitorDriftMetric.NormalizedWasserstein;

    /// <summary>Gets or sets the distance used for categorical features.</summary>
    /// <value>Default <see cref="MonitorDriftMetric.LInfinity"/> (TFDV's categorical check).</value>
    public MonitorDriftMetric CategoricalMetric { get; set; } = MonitorDriftMetric.LInfinity;

    /// <summary>Gets or sets the fixed threshold of numeric features: the smallest distance reported as drift, whatever the calibration says (a minimum effect size, so that large traffic does not turn tiny shifts into alarms).</summary>
    /// <value>Default 0.1.</value>
    public double NumericThreshold { get; set; } = 0.1;

    /// <summary>Gets or sets the fixed threshold of categorical features (see <see cref="NumericThreshold"/>).</summary>
    /// <value>Default 0.05 (a category's share moved by 5 points).</value>
    public double CategoricalThreshold { get; set; } = 0.05;

    /// <summary>Gets per-feature fixed thresholds that replace <see cref="NumericThreshold"/> or <see cref="CategoricalThreshold"/>.</summary>
    /// <remarks>Keys are feature names (<c>SepalLength</c>, <c>Features[0]</c>, <c>Probabilities.top</c>) and compare case-insensitively, like configuration keys: a key applies to every feature whose name matches it ignoring case. A key that names no feature of the model is logged as a warning at start-up, with the nearest feature's name (see docs/monitoring.md).</remarks>
    public IDictionary<string, double> FeatureThresholds { get; } = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets k of the calibrated threshold mean + k·sigma of the distances between each reference chunk and the rest of the reference (NannyML-style). The effective threshold is the larger of that and the fixed threshold. 0 turns calibration off.</summary>
    /// <value>Default 3.</value>
    public double CalibrationSigmas { get; set; } = 3;

    /// <summary>Gets or sets the hysteresis: a drifted feature returns to stable only when its distance falls below this fraction of the threshold.</summary>
    /// <value>Default 0.8.</value>
    public double ExitRatio { get; set; } = 0.8;

    /// <summary>Gets or sets the fewest observations a window needs before a feature's drift or quality is judged.</summary>
    /// <value>Default 500.</value>
    public int MinimumSampleSize { get; set; } = 500;

    /// <summary>Gets or sets the dataset-level rule: the dataset drifts when at least this share of the judged features drift (Evidently's 50%).</summary>
    /// <value>Default 0.5.</value>
    public double DatasetDriftShare { get; set; } = 0.5;

    /// <summary>Gets or sets the rows per chunk when a reference is built from training data; chunks calibrate the thresholds. Set it near a window's expected volume.</summary>
    /// <value>Default 1,000.</value>
    public int ReferenceChunkSize { get; set; } = 1_000;

    /// <summary>Gets or sets the <c>mostly</c> of the missing-value rule: at least this share of a feature's values is expected present and finite. When the reference has more missing values, its own missing share is the allowance instead. A window fails only when its missing share exceeds the allowance by more than chance explains at <see cref="QualityConfidence"/> (a binomial bound on the window's sample size).</summary>
    /// <value>Default 0.99.</value>
    public double NotMissingMostly { get; set; } = 0.99;

    /// <summary>Gets or sets the one-sided confidence of the missing-value rule's binomial bound: on a stable stream about 1 − this share of windows fail. A failing rule holds again when the same statistic falls below <see cref="ExitRatio"/> of the critical value.</summary>
    /// <value>Default 0.999 (z = 3.09).</value>
    public double QualityConfidence { get; set; } = 0.999;

    /// <summary>Gets explicit value ranges of numeric input features; features without one use the reference's range widened by <see cref="RangeTolerance"/>.</summary>
    /// <remarks>Keys are feature names and compare case-insensitively, as <see cref="FeatureThresholds"/>' do; unknown keys are logged at start-up.</remarks>
    public IDictionary<string, MonitorValueRange> Ranges { get; } = new Dictionary<string, MonitorValueRange>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets how much a reference range is widened on each side, as a fraction of its span.</summary>
    /// <value>Default 0.1.</value>
    public double RangeTolerance { get; set; } = 0.1;

    /// <summary>Gets or sets the <c>mostly</c> of the range rule (share of finite values inside the range).</summary>
    /// <value>Default 0.99.</value>
    public double RangeMostly { get; set; } = 0.99;

    /// <summary>Gets or sets the <c>mostly</c> of the unseen-category rule (share of a categorical input's values in categories the reference knows).</summary>
    /// <value>Default 0.99.</value>
    public double KnownCategoryMostly { get; set; } = 0.99;

    /// <summary>Gets or sets the volume rule's tolerance: a window's prediction rate may differ from the reference rate by at most this fraction, up or down. Null turns the rule off.</summary>
    /// <value>Default 0.5.</value>
    public double? VolumeTolerance { get; set; } = 0.5;

    /// <summary>Gets or sets the expected predictions per minute for the volume rule; when null, the rate of a reference frozen from production is used (a reference built from training data has no rate).</summary>
    /// <value>Default <see langword="null"/>.</value>
    public double? ExpectedPredictionsPerMinute { get; set; }

    /// <summary>Gets or sets the <c>mostly</c> of the schema rule: share of requests that pass validation.</summary>
    /// <value>Default 0.999.</value>
    public double SchemaMostly { get; set; } = 0.999;

    /// <summary>Gets or sets how long one handler may take to handle the events of one evaluation before it is abandoned.</summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets a reference file (written by <see cref="MonitorReference.Save(Stream)"/>) loaded when the host starts; relative paths resolve against the content root.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? ReferencePath { get; set; }

    /// <summary>A shallow copy (the collections are shared: they are read, not changed, after start-up).</summary>
    internal MonitoringOptions Clone() => (MonitoringOptions)MemberwiseClone();

    /// <summary>Gets or sets a directory where the monitor's snapshot is written after every evaluation and at shutdown, and restored from at start-up.</summary>
    /// <value>Default <see langword="null"/> (no persistence).</value>
    public string? SnapshotDirectory { get; set; }

    /// <summary>Gets or sets how far ahead of this monitor's clock a merged or restored snapshot's intervals may start; intervals further ahead (another replica's clock is wrong, or the file is hostile) are skipped and counted in <see cref="MonitorMergeResult.Ahead"/>, so they cannot move the ring forward and make the monitor drop its own current data as late. Rounded up to whole intervals and capped at the retention minus one interval.</summary>
    /// <value>Default 5 minutes.</value>
    public TimeSpan MaxSnapshotClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many features merged snapshots may add to the monitor over its lifetime (features the model does not record itself, such as vector elements not seen yet or features of another model version); beyond it, a snapshot's unknown features are skipped and counted in <see cref="MonitorMergeResult.SkippedFeatures"/>.</summary>
    /// <value>Default 4,096.</value>
    public int MaxImportedFeatures { get; set; } = 4_096;

    /// <summary>Gets or sets the name of a string member of the input type (usually marked <c>[ModelIgnore]</c>) that carries a prediction id, for <see cref="IModelMonitor.RecordOutcome(string, double)"/>.</summary>
    /// <value>Default <see langword="null"/> (no outcome joining).</value>
    public string? PredictionIdMember { get; set; }

    /// <summary>Gets or sets how many predictions with an id wait for their outcome; the oldest are forgotten first.</summary>
    /// <value>Default 100,000.</value>
    public int MaxPendingOutcomes { get; set; } = 100_000;

    /// <summary>Gets or sets how many (input, prediction, outcome) samples the evaluation store keeps, preferring uncertain predictions. 0 turns the store off.</summary>
    /// <value>Default 1,000.</value>
    public int EvaluationStoreCapacity { get; set; } = 1_000;
}

/// <summary>The distance a monitor thresholds (see docs/drift.md for each).</summary>
public enum MonitorDriftMetric
{
    /// <summary>Wasserstein-1 divided by the reference standard deviation (numeric only).</summary>
    NormalizedWasserstein,

    /// <summary>Kolmogorov-Smirnov distance (numeric only).</summary>
    KolmogorovSmirnov,

    /// <summary>Jensen-Shannon distance (numeric or categorical).</summary>
    JensenShannonDistance,

    /// <summary>Population stability index (numeric or categorical).</summary>
    PopulationStabilityIndex,

    /// <summary>Hellinger distance over bins (numeric only).</summary>
    Hellinger,

    /// <summary>Largest change of a bin's or category's share (numeric or categorical).</summary>
    LInfinity,

    /// <summary>Cramér's V of the chi-square homogeneity test (categorical only).</summary>
    CramersV,
}

/// <summary>An inclusive range of valid values for the range rule.</summary>
/// <param name="Min">The smallest valid value.</param>
/// <param name="Max">The largest valid value.</param>
public readonly record struct MonitorValueRange(double Min, double Max);
