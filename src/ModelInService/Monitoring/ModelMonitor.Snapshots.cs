using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>The merge of snapshots into the ring: checked completely first, then applied (all or nothing).</summary>
internal sealed partial class ModelMonitor
{
    /// <summary>Features added to <see cref="_catalog"/> by merged snapshots. Guarded by <see cref="_state"/>.</summary>
    private int _importedFeatures;

    public MonitorMergeResult MergeSnapshot(MonitorSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (!string.Equals(snapshot.ModelName, ModelName, StringComparison.Ordinal))
        {
            // Another model's profiles would be merged into this one's history under the same feature names.
            throw new ArgumentException($"The snapshot is of model '{snapshot.ModelName}', this monitor's model is '{ModelName}'; they cannot be merged.", nameof(snapshot));
        }

        if (snapshot.IntervalLength.Ticks != _intervalTicks)
        {
            throw new ArgumentException($"The snapshot's intervals last {snapshot.IntervalLength}, this monitor's {_options.IntervalLength}; they cannot be merged.", nameof(snapshot));
        }

        MonitorMergeResult result;
        lock (_state)
        {
            result = MergeLocked(snapshot);
        }

        if (result.Ahead > 0 || result.TooOld > 0 || result.SkippedFeatures > 0)
        {
            MonitorLog.SnapshotPartlyMerged(_logger, ModelName, result.Ahead, _options.MaxSnapshotClockSkew, result.TooOld, result.SkippedPredictions, result.SkippedFeatures);
        }

        return result;
    }

    private static long SaturatingAdd(long a, long b) => b > long.MaxValue - a ? long.MaxValue : a + b;

    private MonitorMergeResult MergeLocked(MonitorSnapshot snapshot)
    {
        // 1. Features: known ones map by name (a kind mismatch is skipped), unknown ones are added while the budget lasts.
        var map = new int[snapshot.Catalog.Count];
        var added = new List<FeatureInfo>();
        var skippedFeatures = 0;
        foreach (var feature in snapshot.Catalog.All)
        {
            if (_catalog.TryGet(feature.Name, out var id))
            {
                map[feature.Id] = _catalog[id].Kind == feature.Kind ? id : -1;
                skippedFeatures += map[feature.Id] < 0 ? 1 : 0;
            }
            else if (_importedFeatures + added.Count < _options.MaxImportedFeatures)
            {
                map[feature.Id] = _catalog.Count + added.Count;
                added.Add(feature);
            }
            else
            {
                map[feature.Id] = -1;
                skippedFeatures++;
            }
        }

        // 2. Intervals: skip those too far ahead of this clock, then those the final ring will not retain.
        var current = CurrentInterval();
        // Never more than the ring minus one interval, so merged intervals can never push the current one out.
        var skew = Math.Min((_options.MaxSnapshotClockSkew.Ticks + _intervalTicks - 1) / _intervalTicks, _ring.Capacity - 1);
        var newest = _ring.Newest;
        var candidates = new List<IntervalProfile>(snapshot.Intervals.Count);
        int ahead = 0, tooOld = 0;
        long skipped = 0;
        foreach (var source in snapshot.Intervals)
        {
            if (source.Index - current > skew)
            {
                ahead++;
                skipped = SaturatingAdd(skipped, source.Predictions);
                continue;
            }

            candidates.Add(source);
            newest = Math.Max(newest, source.Index);
        }

        candidates.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        var retained = new List<IntervalProfile>(candidates.Count);
        long late = 0;
        foreach (var source in candidates)
        {
            if (source.Index <= newest - _ring.Capacity)
            {
                tooOld++;
                late = SaturatingAdd(late, source.Rows);
                skipped = SaturatingAdd(skipped, source.Predictions);
                continue;
            }

            Check(source, _ring.Get(source.Index), map);
            retained.Add(source);
        }

        // 3. Apply: nothing below can fail on the snapshot's content.
        foreach (var feature in added)
        {
            _catalog.GetOrAdd(feature.Name, feature.Role, feature.Kind);
        }

        _importedFeatures += added.Count;
        foreach (var source in retained)
        {
            var target = _ring.GetForWrite(source.Index)!;
            target.Rows += source.Rows;
            target.Dropped += source.Dropped;
            target.SchemaViolations += source.SchemaViolations;
            target.Unsampled += source.Unsampled;
            target.Outcomes.Merge(source.Outcomes);
            target.Versions.MergeFrom(source.Versions);
            for (var id = 0; id < map.Length; id++)
            {
                if (map[id] >= 0 && source[id] is { TotalCount: > 0 } profile)
                {
                    target.GetOrCreate(_catalog[map[id]], _factory).Merge(profile);
                }
            }
        }

        _late = SaturatingAdd(_late, late);
        return new MonitorMergeResult(retained.Count, tooOld, ahead, skipped, skippedFeatures);
    }

    /// <summary>Throws <see cref="OverflowException"/> when merging <paramref name="source"/> into <paramref name="target"/> (null: a new interval) would overflow.</summary>
    private static void Check(IntervalProfile source, IntervalProfile? target, int[] map)
    {
        if (target is null)
        {
            return; // A snapshot's interval alone is valid (ReadFrom and the monitor's own export check it).
        }

        try
        {
            CheckedSums(source, target, map);
        }
        catch (OverflowException ex)
        {
            throw new OverflowException($"Merging interval {source.Index} would take a count past Int64.MaxValue; nothing was merged.", ex);
        }
    }

    private static void CheckedSums(IntervalProfile source, IntervalProfile target, int[] map)
    {
        checked
        {
            _ = target.Rows + source.Rows + target.Dropped + source.Dropped + target.Unsampled + source.Unsampled;
            _ = target.SchemaViolations + source.SchemaViolations;
            var (t, s) = (target.Outcomes, source.Outcomes);
            _ = t.Classified + s.Classified;
            _ = t.Regressed + s.Regressed;
            for (var i = 0; i < OutcomeStats.Bins; i++)
            {
                _ = t.BinCount[i] + s.BinCount[i];
                if (!double.IsFinite(t.BinConfidence[i] + s.BinConfidence[i]))
                {
                    throw new OverflowException($"Merging interval {source.Index} would make a confidence sum infinite; nothing was merged.");
                }
            }

            if (!double.IsFinite(t.AbsoluteError + s.AbsoluteError) || !double.IsFinite(t.SquaredError + s.SquaredError))
            {
                throw new OverflowException($"Merging interval {source.Index} would make an error sum infinite; nothing was merged.");
            }

            for (var id = 0; id < map.Length; id++)
            {
                if (map[id] >= 0 && source[id] is { TotalCount: > 0 } profile && target[map[id]] is { } existing)
                {
                    _ = existing.TotalCount + profile.TotalCount;
                }
            }
        }
    }
}
