namespace ModelInService.Monitoring;

/// <summary>
/// Checks the per-feature keys of <see cref="MonitoringOptions"/> (<see cref="MonitoringOptions.FeatureThresholds"/>,
/// <see cref="MonitoringOptions.Ranges"/>, <see cref="MonitoringOptions.CategoricalFeatures"/>) against what a monitor
/// records: a key that names nothing applies to nothing, so each is reported with the nearest name, if one is close.
/// Keys compare case-insensitively, as the options' collections do.
/// </summary>
internal static class FeatureKeys
{
    /// <summary>
    /// The keys that name nothing, as <c>Ranges["sepal_lenght"] (did you mean 'sepal_length'?)</c>.
    /// <see cref="MonitoringOptions.FeatureThresholds"/> and <see cref="MonitoringOptions.Ranges"/> keys name features:
    /// one of <paramref name="features"/>, or a feature of a vector, dictionary or summarized member
    /// (<c>Member[...]</c>, <c>Member.top</c>: named from the data, so only the member is checked).
    /// <see cref="MonitoringOptions.CategoricalFeatures"/> names members.
    /// </summary>
    public static List<string> FindUnknown(MonitoringOptions options, IEnumerable<string> features, IEnumerable<MonitoredMember> members)
    {
        var unknown = new List<string>();
        if (options.FeatureThresholds.Count == 0 && options.Ranges.Count == 0 && options.CategoricalFeatures.Count == 0)
        {
            return unknown;
        }

        var known = new HashSet<string>(features, StringComparer.OrdinalIgnoreCase);
        var memberNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var open = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var member in members)
        {
            memberNames.Add(member.Member);
            if (member.Treatment != MonitoredTreatment.Scalar)
            {
                open.Add(member.Member);
            }
        }

        foreach (var key in options.FeatureThresholds.Keys)
        {
            CheckFeature(nameof(options.FeatureThresholds), key);
        }

        foreach (var key in options.Ranges.Keys)
        {
            CheckFeature(nameof(options.Ranges), key);
        }

        foreach (var key in options.CategoricalFeatures)
        {
            if (!memberNames.Contains(key))
            {
                Add(nameof(options.CategoricalFeatures), key, Nearest(key, memberNames));
            }
        }

        return unknown;

        void CheckFeature(string option, string key)
        {
            var (member, suffix) = Split(key);
            if (known.Contains(key) || (suffix.Length > 0 && open.Contains(member)))
            {
                return;
            }

            // A typo in the member of an element's key ("Featurs[1]") is matched on the member, the rest kept.
            IEnumerable<string> candidates = suffix.Length > 0 ? known.Concat(open.Select(m => m + suffix)) : known;
            Add(option, key, Nearest(key, candidates));
        }

        void Add(string option, string key, string? suggestion) =>
            unknown.Add($"{option}[\"{key}\"]" + (suggestion is null ? "" : $" (did you mean '{suggestion}'?)"));
    }

    /// <summary>
    /// Whether a <see cref="MonitoringOptions.FeatureThresholds"/> or <see cref="MonitoringOptions.Ranges"/> key names a
    /// feature a monitor records: one of <paramref name="features"/> or an element of a vector, dictionary or summarized
    /// member (named from the data: only its member is checked). Case-insensitive.
    /// </summary>
    public static bool NamesFeature(string key, IEnumerable<string> features, IEnumerable<MonitoredMember> members)
    {
        foreach (var feature in features)
        {
            if (string.Equals(feature, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        var (member, suffix) = Split(key);
        if (suffix.Length > 0)
        {
            foreach (var candidate in members)
            {
                if (candidate.Treatment != MonitoredTreatment.Scalar && string.Equals(candidate.Member, member, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The member part of a feature name (before the first <c>[</c> or <c>.</c>; C# member names have neither) and the rest.</summary>
    private static (string Member, string Suffix) Split(string key)
    {
        var end = key.AsSpan().IndexOfAny('[', '.');
        return end <= 0 ? (key, "") : (key[..end], key[end..]);
    }

    /// <summary>
    /// The candidate nearest to <paramref name="key"/> when compared without case, underscores, hyphens and spaces
    /// (<c>sepal_length</c> is near <c>SepalLength</c>), within an edit distance (adjacent transpositions count one) of
    /// a third of the key's length, at least 1; ties go to the ordinally first. Null when none is that close.
    /// </summary>
    internal static string? Nearest(string key, IEnumerable<string> candidates)
    {
        var target = Normalize(key);
        var limit = Math.Max(1, target.Length / 3);
        string? best = null;
        var bestDistance = limit + 1;
        foreach (var candidate in candidates)
        {
            var distance = Distance(target, Normalize(candidate), limit);
            if (distance < bestDistance || (distance == bestDistance && best is not null && string.CompareOrdinal(candidate, best) < 0))
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best;
    }

    private static string Normalize(string name) =>
        string.Concat(name.Where(c => c is not ('_' or '-' or ' ')).Select(char.ToLowerInvariant));

    /// <summary>The optimal-string-alignment distance, or a number above <paramref name="limit"/> once it must exceed it.</summary>
    private static int Distance(string a, string b, int limit)
    {
        if (Math.Abs(a.Length - b.Length) > limit)
        {
            return limit + 1;
        }

        var previous2 = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            var rowMin = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    value = Math.Min(value, previous2[j - 2] + 1);
                }

                current[j] = value;
                rowMin = Math.Min(rowMin, value);
            }

            if (rowMin > limit)
            {
                return limit + 1;
            }

            (previous2, previous, current) = (previous, current, previous2);
        }

        return previous[b.Length];
    }
}
