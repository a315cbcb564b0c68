using System.Globalization;
using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>Evaluation: windows, distances, thresholds, hysteresis, quality rules and the events they raise.</summary>
internal sealed partial class ModelMonitor
{
    /// <summary>Calibration chunks beyond this are ignored (cost is linear in chunks per feature).</summary>
    private const int MaxCalibrationChunks = 200;

    /// <summary>Fewer valid chunks than this give no calibrated threshold (sigma would be meaningless).</summary>
    private const int MinCalibrationChunks = 3;

    private static readonly DriftOptions s_drift = new();

    /// <summary>The model versions of the window being evaluated, for its events. Guarded by <see cref="_state"/>.</summary>
    private IReadOnlyList<string> _windowVersions = [];

    /// <summary>Computes the report of one window; with <paramref name="update"/>, moves the hysteresis state and collects events. Under <see cref="_state"/>.</summary>
    private MonitorReport Evaluate(TimeSpan window, bool update, List<ModelMonitorEvent>? events, DateTimeOffset? end = null)
    {
        var (first, last) = WindowRange(window, end);
        var now = _time.GetUtcNow();
        var merged = new IntervalProfile(-1);
        for (var index = first; index <= last; index++)
        {
            if (_ring.Get(index) is { } interval)
            {
                merged.MergeFrom(interval, _catalog, _factory);
            }
        }

        // Minutes since recording began inside the window (a monitor that started 5 minutes ago has a 5-minute hour).
        var covered = _ring.Oldest == long.MaxValue ? 0 : Math.Max(0, last - Math.Max(first, _ring.Oldest) + 1);
        var minutes = covered * TimeSpan.FromTicks(_intervalTicks).TotalMinutes;
        var rate = covered > 0 ? merged.Predictions / minutes : double.NaN;

        if (!_windowStates.TryGetValue(window, out var state))
        {
            state = new WindowState();
            if (update)
            {
                _windowStates[window] = state;
            }
        }

        var reference = _reference;
        var referenceVersions = reference?.Reference.Total.Versions;
        var versions = merged.Versions.ToList();
        _windowVersions = versions.Count == 0 ? [] : [.. versions.Select(v => v.Version)];
        var versionNote = VersionRows.Note(merged.Versions, referenceVersions);
        if (update)
        {
            // Logged once when the window starts to span several versions (again after it held one only).
            var mixed = merged.Versions.Count + (merged.Versions.OtherRows > 0 ? 1 : 0) > 1;
            if (mixed && !state.MixedVersions)
            {
                MonitorLog.WindowSpansModelVersions(_logger, ModelName, window, versionNote!);
            }

            state.MixedVersions = mixed;
        }

        var features = new List<FeatureReport>(_catalog.Count);
        var violations = new List<QualityViolation>();
        var judgedInputs = 0;
        var driftedInputs = 0;
        foreach (var feature in _catalog.All.OrderBy(f => f.Role).ThenBy(f => f.Id))
        {
            var report = EvaluateFeature(feature, merged[feature.Id], reference, state, window, now, update, events, violations);
            features.Add(report);
            if (feature.Role == FeatureRole.Input && report.Status is FeatureStatus.Stable or FeatureStatus.Drifted)
            {
                judgedInputs++;
                if (report.Status == FeatureStatus.Drifted)
                {
                    driftedInputs++;
                }
            }
        }

        // Dataset rule: share of drifted input features, with the same hysteresis.
        var share = judgedInputs > 0 ? (double)driftedInputs / judgedInputs : double.NaN;
        var datasetDrift = state.DatasetDrift
            ? !(share < _options.DatasetDriftShare * _options.ExitRatio) && judgedInputs > 0
            : share >= _options.DatasetDriftShare;
        if (update && datasetDrift != state.DatasetDrift)
        {
            state.DatasetDrift = datasetDrift;
            events!.Add(new ModelMonitorEvent
            {
                ModelName = ModelName,
                Kind = datasetDrift ? ModelMonitorEventKind.DatasetDriftDetected : ModelMonitorEventKind.DatasetDriftResolved,
                Window = window,
                Rule = "dataset",
                Value = share,
                Threshold = _options.DatasetDriftShare,
                SampleSize = merged.Rows,
                Timestamp = now,
                Versions = _windowVersions,
                Message = Invariant($"{driftedInputs} of {judgedInputs} input features drift ({share:P0}; rule {_options.DatasetDriftShare:P0}) over the last {window}"),
            });
        }

        // Volume: the window's rate against the reference rate, two-sided and relative.
        var expectedRate = _options.ExpectedPredictionsPerMinute ?? reference?.Reference.PredictionsPerMinute;
        if (expectedRate is not > 0 && state.Violating.Contains("volume"))
        {
            Transition(state, "volume", null, false, double.NaN, _options.VolumeTolerance ?? double.NaN, merged.Predictions, window, now, update, events, violations,
                "volume is no longer judged: no expected rate (the reference that gave it was replaced or removed), so the violation is closed");
        }
        else if (_options.VolumeTolerance is { } tolerance && expectedRate is > 0 && covered > 0)
        {
            var change = (rate / expectedRate.Value) - 1;
            var was = state.Violating.Contains("volume");
            var failing = was ? Math.Abs(change) > tolerance * _options.ExitRatio : Math.Abs(change) > tolerance;
            Transition(state, "volume", null, failing, change, tolerance, merged.Predictions, window, now, update, events, violations,
                Invariant($"{rate:0.#} predictions/min vs {expectedRate:0.#} expected ({change:+0%;-0%}; tolerance ±{tolerance:P0})"));
        }

        // Schema: share of requests that passed validation.
        var requests = merged.Predictions + merged.SchemaViolations;
        if (requests >= _options.MinimumSampleSize)
        {
            var passed = 1 - ((double)merged.SchemaViolations / requests);
            CheckMostly(state, "schema", null, passed, _options.SchemaMostly, requests, window, now, update, events, violations,
                Invariant($"{merged.SchemaViolations} of {requests} requests failed validation ({passed:P2} passed; mostly {_options.SchemaMostly:P1})"));
        }

        return new MonitorReport
        {
            ModelName = ModelName,
            Window = window,
            Start = new DateTimeOffset(first * _intervalTicks, TimeSpan.Zero),
            End = new DateTimeOffset((last + 1) * _intervalTicks, TimeSpan.Zero),
            Predictions = merged.Predictions,
            Dropped = merged.Dropped,
            Unsampled = merged.Unsampled,
            SchemaViolations = merged.SchemaViolations,
            PredictionsPerMinute = rate,
            Features = features,
            Violations = violations,
            DriftedShare = share,
            DatasetDrift = datasetDrift,
            Outcomes = merged.Outcomes.ToReport(),
            MonitoredMembers = _decoder.Describe(),
            Versions = versions,
            OtherVersionRows = merged.Versions.OtherRows,
            ReferenceVersions = referenceVersions?.ToList() ?? [],
            VersionNote = versionNote,
        };
    }

    private FeatureReport EvaluateFeature(
        FeatureInfo feature,
        FeatureProfile? profile,
        ReferenceState? reference,
        WindowState state,
        TimeSpan window,
        DateTimeOffset now,
        bool update,
        List<ModelMonitorEvent>? events,
        List<QualityViolation> violations)
    {
        var numeric = feature.Kind == FeatureKind.Numeric;
        var count = profile?.TotalCount ?? 0;
        var valid = profile is null ? 0 : numeric ? profile.Moments!.Count : profile.Categories!.N;
        var missing = count - valid;
        var metric = numeric ? _options.NumericMetric : _options.CategoricalMetric;
        var fixedThreshold = _options.FeatureThresholds.TryGetValue(feature.Name, out var t) ? t : numeric ? _options.NumericThreshold : _options.CategoricalThreshold;
        var calibrated = double.NaN;
        var referenceProfile = reference?.Reference.GetProfile(feature.Name);
        if (referenceProfile is not null && referenceProfile.Kind != feature.Kind)
        {
            referenceProfile = null;
        }

        // A profile without a single value (every reference value of the feature was missing or not finite) gives NaN
        // distances: the feature cannot be judged for drift, like one the reference lacks. Its profile still serves
        // the quality rules (its missing share).
        var judgeable = referenceProfile is not null && HasValues(referenceProfile);
        string? calibrationNote = null;
        if (judgeable && _options.CalibrationSigmas > 0 && reference!.Calibration.TryGetValue(feature.Name, out var calibration))
        {
            calibrated = calibration.Mean + (_options.CalibrationSigmas * calibration.Std);
        }
        else
        {
            calibrationNote = CalibrationNote(referenceProfile, reference);
        }

        var threshold = double.IsNaN(calibrated) ? fixedThreshold : Math.Max(fixedThreshold, calibrated);
        var exit = threshold * _options.ExitRatio;
        FeatureDrift? drift = null;
        var distance = new DistanceEstimate(double.NaN, double.NaN, double.NaN);
        FeatureStatus status;
        if (!judgeable)
        {
            status = FeatureStatus.NoReference;
            if (update && state.Drifted.Remove(feature.Name))
            {
                // An alarm opened against a reference that was replaced by one without this feature, or removed: it
                // can no longer resolve by itself, so it is closed now, saying why (an alert must not stay open forever).
                events!.Add(new ModelMonitorEvent
                {
                    ModelName = ModelName,
                    Kind = ModelMonitorEventKind.DriftResolved,
                    Window = window,
                    Feature = feature.Name,
                    Rule = metric.ToString(),
                    Value = double.NaN,
                    Threshold = exit,
                    SampleSize = valid,
                    Timestamp = now,
                    Versions = _windowVersions,
                    Message = referenceProfile is null
                        ? Invariant($"'{feature.Name}' is no longer judged for drift over the last {window}: the reference has no profile of it (it was replaced or removed), so its alarm is closed")
                        : Invariant($"'{feature.Name}' is no longer judged for drift over the last {window}: the reference has no value of it (every one missing or not finite), so its alarm is closed"),
                });
            }
        }
        else if (valid < _options.MinimumSampleSize || profile is null)
        {
            status = FeatureStatus.InsufficientData;
        }
        else
        {
            drift = DriftMetrics.Compare(referenceProfile!, profile, s_drift);
            distance = Distance(drift, metric);
            var was = state.Drifted.Contains(feature.Name);
            var drifted = was ? !(distance.Value < exit) : distance.Value > threshold;
            status = drifted ? FeatureStatus.Drifted : FeatureStatus.Stable;
            if (update && drifted != was)
            {
                if (drifted)
                {
                    state.Drifted.Add(feature.Name);
                }
                else
                {
                    state.Drifted.Remove(feature.Name);
                }

                events!.Add(new ModelMonitorEvent
                {
                    ModelName = ModelName,
                    Kind = drifted ? ModelMonitorEventKind.DriftDetected : ModelMonitorEventKind.DriftResolved,
                    Window = window,
                    Feature = feature.Name,
                    Rule = metric.ToString(),
                    Value = distance.Value,
                    Threshold = drifted ? threshold : exit,
                    SampleSize = valid,
                    Timestamp = now,
                    Versions = _windowVersions,
                    Message = drifted
                        ? Invariant($"'{feature.Name}' drifted: {metric} {distance.Value:0.####} [{distance.LowerBound:0.####}, {distance.UpperBound:0.####}] > {threshold:0.####} over the last {window} (n = {valid})")
                        : Invariant($"'{feature.Name}' is stable again: {metric} {distance.Value:0.####} < {exit:0.####} over the last {window} (n = {valid})"),
                });
            }
        }

        if (profile is not null && count >= _options.MinimumSampleSize)
        {
            CheckQuality(feature, profile, referenceProfile, drift, count, valid, state, window, now, update, events, violations);
        }

        var moments = profile?.Moments;
        return new FeatureReport
        {
            Name = feature.Name,
            Role = feature.Role,
            Kind = feature.Kind,
            Count = count,
            MissingCount = missing,
            Mean = moments?.Mean ?? double.NaN,
            StandardDeviation = moments?.StandardDeviation ?? double.NaN,
            Min = moments?.Min ?? double.NaN,
            Max = moments?.Max ?? double.NaN,
            Metric = metric,
            Distance = distance,
            Threshold = threshold,
            CalibratedThreshold = calibrated,
            CalibrationNote = calibrationNote,
            ExitThreshold = exit,
            Status = status,
            Drift = drift,
            Profile = profile,
            ReferenceProfile = referenceProfile,
        };
    }

    /// <summary>Why a feature has no calibrated threshold, in words that say what to change.</summary>
    private string CalibrationNote(FeatureProfile? referenceProfile, ReferenceState? reference)
    {
        if (_options.CalibrationSigmas <= 0)
        {
            return "calibration is off (CalibrationSigmas = 0): the fixed threshold applies";
        }

        if (reference is null)
        {
            return "no reference: set one (BuildReferenceAsync, FreezeReference or ReferencePath) to calibrate";
        }

        if (referenceProfile is null)
        {
            return "the reference has no profile of this feature (or one of another kind): the fixed threshold applies";
        }

        if (!HasValues(referenceProfile))
        {
            return "the reference has no value of this feature (every one missing or not finite): it is not judged for drift";
        }

        var r = reference.Reference;
        var chunks = Math.Min(r.ChunkCount, MaxCalibrationChunks);
        return chunks < MinCalibrationChunks
            ? Invariant($"not calibrated: the reference has {r.Rows} rows in {r.ChunkCount} chunk(s) and calibration needs at least {MinCalibrationChunks} (chunks of ReferenceChunkSize rows from training data, or intervals of a frozen window); use more reference rows or a smaller ReferenceChunkSize (about a window's volume, at most {Math.Max(1, r.Rows / MinCalibrationChunks)} here). The fixed threshold applies")
            : Invariant($"not calibrated: fewer than {MinCalibrationChunks} of the reference's {r.ChunkCount} chunks have enough values of this feature (at least MinimumSampleSize = {_options.MinimumSampleSize}, or half a chunk); the fixed threshold applies");
    }

    private void CheckQuality(
        FeatureInfo feature,
        FeatureProfile profile,
        FeatureProfile? reference,
        FeatureDrift? drift,
        long count,
        long valid,
        WindowState state,
        TimeSpan window,
        DateTimeOffset now,
        bool update,
        List<ModelMonitorEvent>? events,
        List<QualityViolation> violations)
    {
        // Missing values: the allowed missing share is 1 - NotMissingMostly, or the reference's own share when that is
        // larger. A window fails when its missing count is improbably high for that share at the rule's confidence
        // (binomial bound: the window's sample size, plus the reference's when the share was estimated from it), and
        // holds again when the same statistic falls below ExitRatio of the bound (hysteresis).
        var allowed = 1 - _options.NotMissingMostly;
        long referenceCount = 0;
        if (reference is { TotalCount: > 0 })
        {
            var referenceValid = reference.Kind == FeatureKind.Numeric ? reference.Moments!.Count : reference.Categories!.N;
            var referenceMissing = 1 - ((double)referenceValid / reference.TotalCount);
            if (referenceMissing > allowed)
            {
                allowed = referenceMissing;
                referenceCount = reference.TotalCount;
            }
        }

        var missingKey = "missing|" + feature.Name;
        var bound = MissingRule.Evaluate(count - valid, count, allowed, referenceCount, _options.QualityConfidence, _options.ExitRatio, state.Violating.Contains(missingKey), out var failingMissing, out var limit);
        var present = (double)valid / count;
        Transition(state, "missing", feature.Name, failingMissing, present, 1 - limit, count, window, now, update, events, violations,
            Invariant($"'{feature.Name}': {count - valid} of {count} values missing or not finite ({1 - present:P2}; allowed {allowed:P2}, bound {bound:P2} at n = {count} and {_options.QualityConfidence:P1} confidence)"));

        if (feature.Role != FeatureRole.Input)
        {
            return;
        }

        // Range: share of finite values inside the explicit range, or the reference's range widened by the tolerance.
        if (feature.Kind == FeatureKind.Numeric && valid > 0)
        {
            MonitorValueRange? range = _options.Ranges.TryGetValue(feature.Name, out var explicitRange) ? explicitRange : null;
            if (range is null && reference?.Moments is { Count: > 0 } r)
            {
                var span = r.Max - r.Min;
                var pad = span > 0 ? span * _options.RangeTolerance : Math.Max(Math.Abs(r.Max), 1) * _options.RangeTolerance;
                range = new MonitorValueRange(r.Min - pad, r.Max + pad);
            }

            if (range is null && state.Violating.Contains("range|" + feature.Name))
            {
                Transition(state, "range", feature.Name, false, double.NaN, _options.RangeMostly, valid, window, now, update, events, violations,
                    Invariant($"'{feature.Name}': the range is no longer judged: no Ranges entry and the reference has no value of it (it was replaced or removed), so the violation is closed"));
            }
            else if (range is { } bounds)
            {
                var m = profile.Moments!;
                var inside = m.Min >= bounds.Min && m.Max <= bounds.Max
                    ? 1.0
                    : Math.Clamp(profile.Quantiles!.GetRank(bounds.Max, QuantileSearchCriteria.Inclusive) - profile.Quantiles.GetRank(bounds.Min, QuantileSearchCriteria.Exclusive), 0, 1);
                CheckMostly(state, "range", feature.Name, inside, _options.RangeMostly, valid, window, now, update, events, violations,
                    Invariant($"'{feature.Name}': {inside:P2} of values in [{bounds.Min:G6}, {bounds.Max:G6}] (mostly {_options.RangeMostly:P1}; observed [{m.Min:G6}, {m.Max:G6}])"));
            }
        }

        // Unseen categories: share of values in categories the reference knows.
        // Judged only while the reference tracked every category it saw: once its sketch dropped rare categories (more
        // distinct values than it tracks: ids, zip codes), a value of a dropped category counts as unseen, and a stable
        // stream of 1,000 categories was held in violation for good (82.7% "known", an outside probe).
        var purged = drift is CategoricalDrift && reference is { Kind: FeatureKind.Categorical } && !reference.Categories!.IsExact;
        if (((drift is null && (reference is null || !HasValues(reference))) || purged) && state.Violating.Contains("unseen|" + feature.Name))
        {
            Transition(state, "unseen", feature.Name, false, double.NaN, _options.KnownCategoryMostly, valid, window, now, update, events, violations,
                purged
                    ? Invariant($"'{feature.Name}': unseen categories are no longer judged: the reference tracks only its most frequent categories (it saw more than its sketch keeps), so the violation is closed")
                    : Invariant($"'{feature.Name}': unseen categories are no longer judged: the reference has no profile of it (it was replaced or removed) or no value of it, so the violation is closed"));
        }
        else if (drift is CategoricalDrift categorical && !purged)
        {
            var known = 1 - categorical.UnseenFraction;
            // The message names how many categories, never which: it is logged (event 3004) and category values are
            // inputs (a caller's string with line breaks forged log lines). The report's categories show them.
            CheckMostly(state, "unseen", feature.Name, known, _options.KnownCategoryMostly, valid, window, now, update, events, violations,
                Invariant($"'{feature.Name}': {categorical.UnseenFraction:P2} of values in {categorical.UnseenCategories.Count} categor{(categorical.UnseenCategories.Count == 1 ? "y" : "ies")} the reference never saw (mostly {_options.KnownCategoryMostly:P1} known)"));
        }
    }

    /// <summary>Whether a reference profile has any value to compare with (finite values, or labels).</summary>
    private static bool HasValues(FeatureProfile profile) =>
        profile.Kind == FeatureKind.Numeric ? profile.Moments!.Count > 0 : profile.Categories!.N > 0;

    /// <summary>A `mostly` rule: fails below <paramref name="mostly"/>, holds again at mostly + half the allowance (hysteresis).</summary>
    private void CheckMostly(WindowState state, string rule, string? feature, double observed, double mostly, long sampleSize, TimeSpan window, DateTimeOffset now, bool update, List<ModelMonitorEvent>? events, List<QualityViolation> violations, string message)
    {
        var key = feature is null ? rule : rule + "|" + feature;
        var was = state.Violating.Contains(key);
        var failing = was ? observed < Math.Min(1, mostly + ((1 - mostly) * 0.5)) : observed < mostly;
        Transition(state, rule, feature, failing, observed, mostly, sampleSize, window, now, update, events, violations, message);
    }

    private void Transition(WindowState state, string rule, string? feature, bool failing, double observed, double expected, long sampleSize, TimeSpan window, DateTimeOffset now, bool update, List<ModelMonitorEvent>? events, List<QualityViolation> violations, string message)
    {
        var key = feature is null ? rule : rule + "|" + feature;
        var was = state.Violating.Contains(key);
        if (failing)
        {
            violations.Add(new QualityViolation(rule, feature, observed, expected, sampleSize, message));
        }

        if (!update || failing == was)
        {
            return;
        }

        if (failing)
        {
            state.Violating.Add(key);
        }
        else
        {
            state.Violating.Remove(key);
        }

        events!.Add(new ModelMonitorEvent
        {
            ModelName = ModelName,
            Kind = failing ? ModelMonitorEventKind.QualityViolation : ModelMonitorEventKind.QualityResolved,
            Window = window,
            Feature = feature,
            Rule = rule,
            Value = observed,
            Threshold = expected,
            SampleSize = sampleSize,
            Timestamp = now,
            Message = message,
            Versions = _windowVersions,
        });
    }

    private static DistanceEstimate Distance(FeatureDrift drift, MonitorDriftMetric metric) => (drift, metric) switch
    {
        (NumericDrift n, MonitorDriftMetric.NormalizedWasserstein) => n.NormalizedWasserstein1,
        (NumericDrift n, MonitorDriftMetric.KolmogorovSmirnov) => n.KolmogorovSmirnov,
        (NumericDrift n, MonitorDriftMetric.Hellinger) => n.Hellinger,
        (CategoricalDrift c, MonitorDriftMetric.CramersV) => c.CramersV,
        (_, MonitorDriftMetric.JensenShannonDistance) => drift.JensenShannonDistance,
        (_, MonitorDriftMetric.PopulationStabilityIndex) => drift.PopulationStabilityIndex,
        _ => drift.LInfinity,
    };

    /// <summary>
    /// Distances between each reference chunk and the rest of the reference (leave-one-out, so a chunk is not
    /// compared with itself), summarized as mean and sample standard deviation per feature. Prefix and suffix
    /// merges keep it linear in the number of chunks.
    /// </summary>
    private Dictionary<string, (double Mean, double Std, int Chunks)> Calibrate(MonitorReference reference)
    {
        var result = new Dictionary<string, (double, double, int)>(StringComparer.Ordinal);
        var chunks = reference.Chunks.Take(MaxCalibrationChunks).ToList();
        if (chunks.Count < MinCalibrationChunks || _options.CalibrationSigmas <= 0)
        {
            return result;
        }

        foreach (var feature in reference.Catalog.All)
        {
            var metric = feature.Kind == FeatureKind.Numeric ? _options.NumericMetric : _options.CategoricalMetric;
            var profiles = chunks.Select(c => c[feature.Id]).ToArray();
            var prefix = new FeatureProfile?[profiles.Length + 1];
            var suffix = new FeatureProfile?[profiles.Length + 1];
            for (var i = 0; i < profiles.Length; i++)
            {
                prefix[i + 1] = Combine(prefix[i], profiles[i], feature, i);
            }

            for (var i = profiles.Length - 1; i >= 0; i--)
            {
                suffix[i] = Combine(suffix[i + 1], profiles[i], feature, -i);
            }

            var distances = new List<double>();
            for (var i = 0; i < profiles.Length; i++)
            {
                var chunk = profiles[i];
                var valid = chunk is null ? 0 : chunk.Kind == FeatureKind.Numeric ? chunk.Moments!.Count : chunk.Categories!.N;
                if (valid < Math.Min(_options.MinimumSampleSize, reference.Rows / chunks.Count / 2) || valid == 0)
                {
                    continue;
                }

                var rest = Combine(prefix[i], suffix[i + 1], feature, 1_000_000 + i);
                if (rest is null || rest.TotalCount == 0)
                {
                    continue;
                }

                var d = Distance(DriftMetrics.Compare(rest, chunk!, s_drift), metric).Value;
                if (double.IsFinite(d))
                {
                    distances.Add(d);
                }
            }

            if (distances.Count >= MinCalibrationChunks)
            {
                var mean = distances.Average();
                var variance = distances.Sum(d => (d - mean) * (d - mean)) / (distances.Count - 1);
                result[feature.Name] = (mean, Math.Sqrt(variance), distances.Count);
            }
        }

        return result;
    }

    private FeatureProfile? Combine(FeatureProfile? a, FeatureProfile? b, FeatureInfo feature, long salt)
    {
        if (a is null)
        {
            return b is null ? null : _factory.Clone(b, feature.Id, salt);
        }

        var copy = _factory.Clone(a, feature.Id, salt);
        if (b is not null)
        {
            copy.Merge(b);
        }

        return copy;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
