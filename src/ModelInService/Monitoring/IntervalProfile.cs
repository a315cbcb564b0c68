using System.Diagnostics;
using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>Creates feature profiles with deterministic compaction seeds (same seed and stream, same sketch).</summary>
internal sealed class ProfileFactory(int k, int seed)
{
    public int K { get; } = k;

    public FeatureProfile Create(FeatureKind kind, int featureId, long salt) => kind == FeatureKind.Numeric
        ? FeatureProfile.CreateNumeric(K, new Random(unchecked((int)((((long)seed * 1_000_003) + (featureId * 7_919L) + salt) % int.MaxValue))))
        : FeatureProfile.CreateCategorical();

    /// <summary>A copy of <paramref name="profile"/> (merging into an empty profile).</summary>
    public FeatureProfile Clone(FeatureProfile profile, int featureId, long salt)
    {
        var copy = Create(profile.Kind, featureId, salt);
        copy.Merge(profile);
        return copy;
    }
}

/// <summary>
/// The profiles and counters of one interval (or of a window: the merge of several). Profiles are indexed by
/// <see cref="FeatureCatalog"/> id. Not thread-safe: used under the monitor's state lock.
/// </summary>
[DebuggerDisplay("interval {Index}: {Rows} rows, {Dropped} dropped")]
internal sealed class IntervalProfile(long index)
{
    /// <summary>Profiles by feature id; null where the feature has no observation in this interval.</summary>
    private FeatureProfile?[] _features = [];

    public long Index { get; private set; } = index;

    /// <summary>Rows whose features were profiled.</summary>
    public long Rows { get; set; }

    /// <summary>Rows dropped because the queue was full (counted for volume).</summary>
    public long Dropped { get; set; }

    public long SchemaViolations { get; set; }

    /// <summary>Rows left out of profiling by the sampling budget (counted for volume).</summary>
    public long Unsampled { get; set; }

    /// <summary>Every prediction of the interval: profiled, dropped or left out by sampling.</summary>
    public long Predictions => Rows + Dropped + Unsampled;

    public OutcomeStats Outcomes { get; } = new();

    /// <summary>The model versions whose answers were profiled, with their rows (bounded; see <see cref="VersionRows"/>).</summary>
    public VersionRows Versions { get; } = new();

    public int Capacity => _features.Length;

    public FeatureProfile? this[int id] => id < _features.Length ? _features[id] : null;

    public FeatureProfile GetOrCreate(FeatureInfo feature, ProfileFactory factory)
    {
        if (feature.Id >= _features.Length)
        {
            Array.Resize(ref _features, Math.Max(feature.Id + 1, _features.Length * 2));
        }

        return _features[feature.Id] ??= factory.Create(feature.Kind, feature.Id, Index);
    }

    public void Set(FeatureInfo feature, FeatureProfile profile)
    {
        if (feature.Id >= _features.Length)
        {
            Array.Resize(ref _features, Math.Max(feature.Id + 1, _features.Length * 2));
        }

        _features[feature.Id] = profile;
    }

    /// <summary>Empties the interval for reuse as <paramref name="index"/> (the ring's slot moves on).</summary>
    public void Reset(long index)
    {
        Index = index;
        Rows = 0;
        Dropped = 0;
        SchemaViolations = 0;
        Unsampled = 0;
        Outcomes.Reset();
        Versions.Reset();
        foreach (var profile in _features)
        {
            profile?.Reset();
        }
    }

    /// <summary>Merges <paramref name="other"/> in: counters add, profiles merge (sketch merges, no recomputation).</summary>
    public void MergeFrom(IntervalProfile other, FeatureCatalog catalog, ProfileFactory factory)
    {
        Rows += other.Rows;
        Dropped += other.Dropped;
        SchemaViolations += other.SchemaViolations;
        Unsampled += other.Unsampled;
        Outcomes.Merge(other.Outcomes);
        Versions.MergeFrom(other.Versions);
        for (var id = 0; id < other._features.Length; id++)
        {
            if (other._features[id] is { TotalCount: > 0 } profile)
            {
                GetOrCreate(catalog[id], factory).Merge(profile);
            }
        }
    }
}

/// <summary>
/// The bounded ring of interval profiles: slot = index mod capacity, so retention is fixed memory and a new interval
/// reuses the slot of the one <c>capacity</c> intervals older.
/// </summary>
internal sealed class IntervalRing(int capacity)
{
    private readonly IntervalProfile?[] _slots = new IntervalProfile?[capacity];

    public int Capacity { get; } = capacity;

    /// <summary>The newest interval index written (long.MinValue before any).</summary>
    public long Newest { get; private set; } = long.MinValue;

    /// <summary>The oldest interval index ever written since the ring started (for partial windows after a start).</summary>
    public long Oldest { get; private set; } = long.MaxValue;

    /// <summary>The interval to write <paramref name="index"/> into, or null when it is older than the retention.</summary>
    public IntervalProfile? GetForWrite(long index)
    {
        if (Newest != long.MinValue && index <= Newest - Capacity)
        {
            return null;
        }

        var slot = (int)(((index % Capacity) + Capacity) % Capacity);
        var profile = _slots[slot];
        if (profile is null)
        {
            profile = _slots[slot] = new IntervalProfile(index);
        }
        else if (profile.Index != index)
        {
            profile.Reset(index);
        }

        Newest = Math.Max(Newest, index);
        Oldest = Math.Min(Oldest, index);
        return profile;
    }

    /// <summary>The retained interval <paramref name="index"/>, or null.</summary>
    public IntervalProfile? Get(long index)
    {
        if (Newest == long.MinValue || index <= Newest - Capacity || index > Newest)
        {
            return null;
        }

        var profile = _slots[(int)(((index % Capacity) + Capacity) % Capacity)];
        return profile?.Index == index ? profile : null;
    }

    /// <summary>Retained intervals, oldest first.</summary>
    public IEnumerable<IntervalProfile> Retained()
    {
        if (Newest == long.MinValue)
        {
            yield break;
        }

        // Counted down from the newest, so an index near long.MaxValue cannot overflow the loop variable.
        for (var age = Capacity - 1; age >= 0; age--)
        {
            if (Get(Newest - age) is { } profile)
            {
                yield return profile;
            }
        }
    }
}

/// <summary>Mergeable outcome statistics: accuracy, absolute and squared errors, and calibration bins.</summary>
internal sealed class OutcomeStats
{
    public const int Bins = 10;

    public long Classified { get; set; }

    public long Correct { get; set; }

    public long Regressed { get; set; }

    public double AbsoluteError { get; set; }

    public double SquaredError { get; set; }

    /// <summary>Per confidence bin (top probability): count, summed confidence, correct count.</summary>
    public long[] BinCount { get; } = new long[Bins];

    public double[] BinConfidence { get; } = new double[Bins];

    public long[] BinCorrect { get; } = new long[Bins];

    public void AddClassification(bool correct, double confidence)
    {
        Classified++;
        if (correct)
        {
            Correct++;
        }

        if (double.IsFinite(confidence))
        {
            var bin = Math.Clamp((int)(confidence * Bins), 0, Bins - 1);
            BinCount[bin]++;
            BinConfidence[bin] += confidence;
            if (correct)
            {
                BinCorrect[bin]++;
            }
        }
    }

    /// <summary>
    /// Whether a regression error can be added: it, its square and the sums it joins stay finite (a snapshot cannot
    /// hold a non-finite sum, and MergeSnapshot refuses one).
    /// </summary>
    public static bool CanAddRegression(OutcomeStats stats, double error) =>
        double.IsFinite(error) && double.IsFinite(error * error)
        && double.IsFinite(stats.AbsoluteError + Math.Abs(error)) && double.IsFinite(stats.SquaredError + (error * error));

    public void AddRegression(double error)
    {
        Regressed++;
        AbsoluteError += Math.Abs(error);
        SquaredError += error * error;
    }

    public void Merge(OutcomeStats other)
    {
        Classified += other.Classified;
        Correct += other.Correct;
        Regressed += other.Regressed;
        AbsoluteError += other.AbsoluteError;
        SquaredError += other.SquaredError;
        for (var i = 0; i < Bins; i++)
        {
            BinCount[i] += other.BinCount[i];
            BinConfidence[i] += other.BinConfidence[i];
            BinCorrect[i] += other.BinCorrect[i];
        }
    }

    public void Reset()
    {
        Classified = Correct = Regressed = 0;
        AbsoluteError = SquaredError = 0;
        Array.Clear(BinCount);
        Array.Clear(BinConfidence);
        Array.Clear(BinCorrect);
    }

    public OutcomeReport ToReport()
    {
        long binned = 0;
        var ece = 0.0;
        for (var i = 0; i < Bins; i++)
        {
            binned += BinCount[i];
        }

        for (var i = 0; i < Bins; i++)
        {
            if (BinCount[i] > 0)
            {
                ece += (double)BinCount[i] / binned * Math.Abs(((double)BinCorrect[i] / BinCount[i]) - (BinConfidence[i] / BinCount[i]));
            }
        }

        return new OutcomeReport(
            Classified + Regressed,
            Classified > 0 ? (double)Correct / Classified : double.NaN,
            Regressed > 0 ? AbsoluteError / Regressed : double.NaN,
            Regressed > 0 ? Math.Sqrt(SquaredError / Regressed) : double.NaN,
            binned > 0 ? ece : double.NaN);
    }
}
