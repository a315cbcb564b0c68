using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Telemetry;

/// <summary>
/// The documentation as a contract, checked mechanically against the sources: metric and trace names
/// (docs/metrics.md and every doc that names one), log event ids and names, and the option tables of
/// docs/configuration.md (every option named, every option of the type listed, the stated defaults).
/// Reads README.md, docs/*.md and src/**/*.cs of the repository holding the test binaries.
/// </summary>
public partial class DocsContractTests
{
    private static readonly string Root = SharedData.RepoRoot;

    [Fact]
    public void Every_metric_or_trace_name_in_the_docs_is_in_the_code_and_every_one_in_the_code_is_in_metrics_md()
    {
        var code = SourceFiles().SelectMany(f => CodeNameLiteral().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        Assert.True(code.Count >= 40, $"found only {code.Count} model_in_service.* names in src/");

        var unknown = DocFiles()
            .SelectMany(f => DocNameToken().Matches(Prose(f)).Select(m => (File: Path.GetFileName(f), Name: m.Groups[1].Value)))
            .Where(x => !code.Contains(x.Name))
            .Select(x => $"{x.File}: {x.Name}")
            .Distinct()
            .ToList();
        Assert.True(unknown.Count == 0, "named in the docs but not in src/: " + string.Join("; ", unknown));

        var metrics = MetricsMdNames();
        var undocumented = code.Where(n => !metrics.Contains(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count == 0, "in src/ but not in docs/metrics.md: " + string.Join(", ", undocumented));
    }

    [Fact]
    public void Every_log_event_id_and_name_in_the_docs_matches_a_LoggerMessage()
    {
        var events = new Dictionary<int, string?>();
        foreach (var file in SourceFiles())
        {
            foreach (Match m in LoggerMessageAttribute().Matches(File.ReadAllText(file)))
            {
                var id = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var name = EventNameArgument().Match(m.Value) is { Success: true } n ? n.Groups[1].Value : null;
                events.TryAdd(id, name);
            }
        }
        Assert.True(events.Count >= 80, $"found only {events.Count} [LoggerMessage] event ids in src/");
        var byName = events.Where(e => e.Value is not null).ToDictionary(e => e.Value!, e => e.Key, StringComparer.Ordinal);

        var problems = new List<string>();
        foreach (var file in DocFiles())
        {
            var text = Prose(file);
            var where = Path.GetFileName(file);
            foreach (Match m in EventPair().Matches(text))
            {
                var name = new[] { m.Groups["n1"], m.Groups["n2"], m.Groups["n3"] }.First(g => g.Success).Value;
                var id = int.Parse(new[] { m.Groups["i1"], m.Groups["i2"], m.Groups["i3"] }.First(g => g.Success).Value, CultureInfo.InvariantCulture);
                if (!byName.TryGetValue(name, out var actual))
                {
                    problems.Add($"{where}: '{m.Value}': no [LoggerMessage] is named {name}");
                }
                else if (actual != id)
                {
                    problems.Add($"{where}: '{m.Value}': {name} is event {actual}");
                }
            }
            foreach (Match m in EventId().Matches(text))
            {
                if (!events.ContainsKey(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)))
                {
                    problems.Add($"{where}: '{m.Value}': no [LoggerMessage] has this id");
                }
            }
            // "event ids 1600-1610", "logs 3100 to 3107": the ids in use, so each exists and the next one does not.
            // A range ending in 99 ("3000-3099") is an allocation, not a list.
            foreach (Match m in EventRange().Matches(text))
            {
                var first = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var last = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
                if (last % 100 == 99)
                {
                    continue;
                }
                var missing = Enumerable.Range(first, last - first + 1).Where(i => !events.ContainsKey(i)).ToList();
                if (missing.Count > 0)
                {
                    problems.Add($"{where}: '{m.Value}': no [LoggerMessage] has id(s) {string.Join(", ", missing)}");
                }
                if (events.ContainsKey(last + 1))
                {
                    problems.Add($"{where}: '{m.Value}': event {last + 1} ({events[last + 1]}) follows the range");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void The_option_tables_of_configuration_md_list_every_option_with_its_default()
    {
        var sections = new Dictionary<string, Type>(StringComparer.Ordinal)
        {
            ["ModelOptions"] = typeof(ModelOptions),
            ["BatchingOptions"] = typeof(BatchingOptions),
            ["CachingOptions"] = typeof(CachingOptions),
            ["MonitoringOptions"] = typeof(MonitoringOptions),
            ["PredictionOptions"] = typeof(PredictionOptions),
        };
        var listed = sections.Values.ToDictionary(t => t, _ => new HashSet<string>(StringComparer.Ordinal));
        var problems = new List<string>();
        Type? current = null;
        var checkedDefaults = 0;
        foreach (var line in File.ReadAllLines(Path.Combine(Root, "docs", "configuration.md")))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                current = OptionsHeading().Match(line) is { Success: true } h && sections.TryGetValue(h.Groups[1].Value, out var t) ? t : null;
                continue;
            }
            if (current is null || OptionRow().Match(line) is not { Success: true } row)
            {
                continue;
            }
            var name = row.Groups[1].Value;
            var stated = row.Groups[2].Value.Trim();
            var property = current.GetProperty(name, BindingFlags.Public | BindingFlags.Instance);
            if (property is null)
            {
                problems.Add($"{current.Name}.{name} is in the table but not a property");
                continue;
            }
            listed[current].Add(name);
            var actual = property.GetValue(Activator.CreateInstance(current));
            switch (DefaultMatches(stated, actual))
            {
                case false:
                    problems.Add($"{current.Name}.{name}: the table says '{stated}', the default is '{Describe(actual)}'");
                    break;
                case true:
                    checkedDefaults++;
                    break;
            }
        }
        foreach (var (type, names) in listed)
        {
            var missing = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Where(n => !names.Contains(n)).ToList();
            if (missing.Count > 0)
            {
                problems.Add($"{type.Name}: not in its table: {string.Join(", ", missing)}");
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.True(checkedDefaults >= 60, $"only {checkedDefaults} defaults could be read from the tables");
    }

    /// <summary>True or false when the stated default can be read ("false", "2 ms", "64 MiB", "0 = ...", "`Reject`",
    /// "empty", "null = ...", "15 min, 1 h"); null when it is prose ("required", "cores").</summary>
    private static bool? DefaultMatches(string stated, object? actual)
    {
        var text = stated.Replace("`", "", StringComparison.Ordinal);
        var head = text.Split(" = ")[0].Split(" (")[0].Trim();
        if (head == "null")
        {
            return actual is null;
        }
        if (head == "empty")
        {
            return actual is IEnumerable e && !e.GetEnumerator().MoveNext();
        }
        if (actual is bool b && bool.TryParse(head, out var statedBool))
        {
            return b == statedBool;
        }
        if (actual is Enum or string && Regex.IsMatch(head, @"^[A-Za-z_]+$"))
        {
            return string.Equals(actual.ToString(), head, StringComparison.Ordinal);
        }
        if (actual is IEnumerable<TimeSpan> spans && head.Contains(',', StringComparison.Ordinal))
        {
            var parts = head.Split(',').Select(p => ParseTimeSpan(p.Trim())).ToList();
            return parts.All(p => p is not null) ? spans.SequenceEqual(parts.Select(p => p!.Value)) : null;
        }
        if (actual is TimeSpan span)
        {
            return ParseTimeSpan(head) is { } statedSpan ? span == statedSpan : null;
        }
        if (SizeInMiB().Match(head) is { Success: true } mib)
        {
            return Convert.ToDouble(actual, CultureInfo.InvariantCulture) == double.Parse(mib.Groups[1].Value, CultureInfo.InvariantCulture) * 1024 * 1024;
        }
        if (actual is IConvertible && double.TryParse(head, NumberStyles.Number, CultureInfo.InvariantCulture, out var number))
        {
            return Convert.ToDouble(actual, CultureInfo.InvariantCulture) == number;
        }
        return null;
    }

    private static TimeSpan? ParseTimeSpan(string text)
    {
        var m = Regex.Match(text, @"^(\d+(?:\.\d+)?) (ms|s|min|h)$");
        if (!m.Success)
        {
            return null;
        }
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(value),
            "s" => TimeSpan.FromSeconds(value),
            "min" => TimeSpan.FromMinutes(value),
            _ => TimeSpan.FromHours(value),
        };
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        IEnumerable e and not string => "[" + string.Join(", ", e.Cast<object>()) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>The names docs/metrics.md gives, with "`a.b.c` / `.c.d`" read as a.b.c and a.b.c.d.</summary>
    private static HashSet<string> MetricsMdNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(Path.Combine(Root, "docs", "metrics.md")))
        {
            string? last = null;
            foreach (Match m in BacktickedName().Matches(line))
            {
                var token = m.Groups[1].Value;
                if (token.StartsWith("model_in_service.", StringComparison.Ordinal))
                {
                    names.Add(last = token);
                }
                else if (token.StartsWith('.') && last is not null)
                {
                    names.Add(last[..last.LastIndexOf('.')] + token);
                }
            }
        }
        return names;
    }

    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static IEnumerable<string> DocFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md").Prepend(Path.Combine(Root, "README.md"));

    /// <summary>A doc without its fenced code blocks (captured output, commands), whitespace runs made one space.</summary>
    private static string Prose(string file) =>
        Whitespace().Replace(FencedBlock().Replace(File.ReadAllText(file), " "), " ");

    [GeneratedRegex("\"(model_in_service\\.[a-z0-9_.]+)\"")]
    private static partial Regex CodeNameLiteral();

    // Not a wildcard ("model_in_service.cache.l2.*") and not the start of a longer word.
    [GeneratedRegex(@"\b(?>(model_in_service\.[a-z0-9_.]*[a-z0-9_]))(?!\.\*)")]
    private static partial Regex DocNameToken();

    [GeneratedRegex(@"`([a-z0-9_.]+)`")]
    private static partial Regex BacktickedName();

    [GeneratedRegex(@"\[LoggerMessage\(\s*(?:EventId\s*=\s*)?(\d+)[^\]]*\]", RegexOptions.Singleline)]
    private static partial Regex LoggerMessageAttribute();

    [GeneratedRegex("EventName\\s*=\\s*\"(\\w+)\"")]
    private static partial Regex EventNameArgument();

    // "`Name` (1022", "`Name` (event 3060", "`Name`, event 3035", "`Name` 1004", "1027 `Name`", "event `Name`, 1018".
    [GeneratedRegex(@"`(?<n1>[A-Z]\w+)`,? \(?(?:event )?(?<i1>\d{4})\b|\b(?<i2>\d{4}) `(?<n2>[A-Z]\w+)`|event `(?<n3>[A-Z]\w+)`,? (?<i3>\d{4})\b")]
    private static partial Regex EventPair();

    [GeneratedRegex(@"\bevents? (\d{4})\b")]
    private static partial Regex EventId();

    [GeneratedRegex(@"\b(?:event ids?|ids|logs) (\d{4}) ?(?:-|–|to) ?(\d{4})\b")]
    private static partial Regex EventRange();

    [GeneratedRegex(@"`(\w+Options)`")]
    private static partial Regex OptionsHeading();

    [GeneratedRegex(@"^\| `(\w+)` \| ([^|]+) \|")]
    private static partial Regex OptionRow();

    [GeneratedRegex(@"^(\d+) MiB$")]
    private static partial Regex SizeInMiB();

    [GeneratedRegex("```.*?```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
