namespace ModelInService.Monitoring;

/// <summary>What the monitor profiles, for the start-up log and the reports.</summary>
internal sealed partial class ModelMonitor
{
    /// <summary>How each member of the input and output types is profiled, and why.</summary>
    public IReadOnlyList<MonitoredMember> MonitoredMembers
    {
        get
        {
            lock (_state)
            {
                return _decoder.Describe();
            }
        }
    }

    /// <summary>Logs the monitored features once at start-up (after the models are loaded, so tensor shapes are known).</summary>
    public void LogMonitoredMembers()
    {
        var members = MonitoredMembers;
        var features = 0;
        var unknown = 0;
        foreach (var member in members)
        {
            if (member.FeatureCount < 0)
            {
                unknown++;
            }
            else
            {
                features += member.FeatureCount;
            }
        }

        MonitorLog.MonitoredFeatures(_logger, ModelName, features, unknown > 0 ? "+" : "", members.Count, string.Join("; ", members.Select(m => m.Description)));
    }

    /// <summary>
    /// Warns once at start-up about <see cref="MonitoringOptions.FeatureThresholds"/>, <see cref="MonitoringOptions.Ranges"/>
    /// and <see cref="MonitoringOptions.CategoricalFeatures"/> keys that name nothing this monitor records (nor, when
    /// given, the pipeline's monitor, which shares the options), with the nearest name: a typo there leaves the default
    /// threshold, range or treatment in force without a word. A warning, not a validation error: the options have no
    /// strict mode, and the reference check (<see cref="WarnOnMismatch"/>) is a warning too.
    /// </summary>
    public void WarnOnUnknownFeatureKeys(ModelMonitor? pipeline)
    {
        var features = new List<string>();
        var members = new List<MonitoredMember>();
        foreach (var monitor in pipeline is null ? [this] : new[] { this, pipeline })
        {
            members.AddRange(monitor.MonitoredMembers);
            lock (monitor._state)
            {
                features.AddRange(monitor._catalog.All.Select(f => f.Name));
            }
        }

        var unknown = FeatureKeys.FindUnknown(_options, features, members);
        if (unknown.Count > 0)
        {
            var known = string.Join(", ", features.Take(20)) + (features.Count > 20 ? ", ..." : "");
            var open = string.Join(", ", members.Where(m => m.Treatment != MonitoredTreatment.Scalar).Select(m => m.Member + "[...]"));
            MonitorLog.UnknownFeatureKeys(_logger, ModelName, string.Join(", ", unknown), open.Length == 0 ? known : known.Length == 0 ? open : known + ", " + open);
        }
    }

    private void LogReferenceBuilt(MonitorReference reference)
    {
        if (reference.SkippedRows > 0)
        {
            MonitorLog.ReferenceRowsSkipped(_logger, ModelName, reference.SkippedRows, reference.SkippedRows + reference.Rows, reference.SkippedReason ?? "");
        }

        MonitorLog.ReferenceBuilt(_logger, ModelName, reference.Rows, reference.SkippedRows, reference.ChunkCount, reference.FeatureNames.Count);
    }

    /// <summary>
    /// Warns when a reference does not fit this model: built for another model name (its features are still compared
    /// by name), or <see cref="MonitoringOptions.FeatureThresholds"/>/<see cref="MonitoringOptions.Ranges"/> keys naming
    /// features it does not have (a typo there silently leaves the default threshold or range in force).
    /// </summary>
    private void WarnOnMismatch(MonitorReference reference)
    {
        if (reference.ModelName is { } built && !string.Equals(built, ModelName, StringComparison.Ordinal))
        {
            MonitorLog.ReferenceOfAnotherModel(_logger, ModelName, built);
        }

        // A reference that silently turns drift detection off (no rows: a frozen window without traffic; or features
        // of other names or kinds: a numeric feature profiled as categories) is said once, here (an outside probe).
        var problems = new List<string>();
        if (reference.Rows == 0)
        {
            problems.Add("it has no rows");
        }

        lock (_state)
        {
            var matched = 0;
            var missing = new List<string>();
            foreach (var feature in _catalog.All)
            {
                if (!reference.Catalog.TryGet(feature.Name, out var id))
                {
                    missing.Add(feature.Name);
                }
                else if (reference.Catalog[id].Kind != feature.Kind)
                {
                    problems.Add($"'{feature.Name}' is {feature.Kind.ToString().ToLowerInvariant()} here, {reference.Catalog[id].Kind.ToString().ToLowerInvariant()} in the reference");
                }
                else
                {
                    matched++;
                }
            }

            if (missing.Count > 0 && (matched == 0 || problems.Count > 0))
            {
                problems.Add((matched == 0 ? "none of the model's features is in it: " : "it lacks ") + string.Join(", ", missing.Take(10)) + (missing.Count > 10 ? $" and {missing.Count - 10} more" : ""));
            }
        }

        if (problems.Count > 0)
        {
            MonitorLog.ReferenceDoesNotFit(_logger, ModelName, string.Join("; ", problems.Take(12)));
        }

        // Case-insensitive, as the options' dictionaries look features up. Only keys naming a feature this monitor
        // records: a key naming nothing is warned at start-up (3037, with the nearest name), and a key naming the other
        // monitor's feature (a pipeline's monitor shares its model's options) is not this reference's business; both
        // were warned here too before.
        var names = new HashSet<string>(reference.FeatureNames, StringComparer.OrdinalIgnoreCase);
        List<string> features;
        lock (_state)
        {
            features = [.. _catalog.All.Select(f => f.Name)];
        }

        var members = MonitoredMembers;
        var unknown = new List<string>();
        foreach (var key in _options.FeatureThresholds.Keys)
        {
            if (!names.Contains(key) && FeatureKeys.NamesFeature(key, features, members))
            {
                unknown.Add("FeatureThresholds[\"" + key + "\"]");
            }
        }

        foreach (var key in _options.Ranges.Keys)
        {
            if (!names.Contains(key) && FeatureKeys.NamesFeature(key, features, members))
            {
                unknown.Add("Ranges[\"" + key + "\"]");
            }
        }

        if (unknown.Count > 0)
        {
            var known = string.Join(", ", reference.FeatureNames.Take(20)) + (reference.FeatureNames.Count > 20 ? ", ..." : "");
            MonitorLog.UnknownFeatureOptions(_logger, ModelName, string.Join(", ", unknown), known);
        }
    }
}
