using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;
using ModelInService.Sessions;

namespace ModelInService.Hosting;

/// <summary>
/// Start-up warnings for settings that would be silently ignored: options configured for a model name nobody
/// registered (a typo such as "irsi" for "iris"), and settings of a feature the model does not use (batching options
/// without <c>UseBatching</c>, <see cref="ModelOptions.ReloadDebounce"/> without <see cref="ModelOptions.WatchForChanges"/>).
/// Named options are found where <c>Configure&lt;T&gt;(name, ...)</c>, <c>PostConfigure&lt;T&gt;(name, ...)</c> and
/// configuration binding register them; the configuration's <c>Models</c> section (the layout the docs use,
/// <c>Models:{model}:Batching</c>) is checked too.
/// </summary>
internal static class ConfigurationChecks
{
    /// <summary>The configuration section whose children are checked against the model names.</summary>
    public const string ModelsSection = "Models";

    /// <summary>A feature's options: its type name, its sub-section under a model's section, whether a model uses it, and how to turn it on.</summary>
    private sealed record Feature(string OptionsType, string? Section, Func<ModelHost, bool> Enabled, string Enable, IEnumerable<string> ConfiguredNames);

    public static void Run(IServiceProvider services, IReadOnlyCollection<ModelHost> hosts, ILogger logger)
    {
        var monitored = services.GetServices<MonitoredModel>().Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        Feature[] features =
        [
            new(nameof(ModelOptions), null, _ => true, "", NamesOf<ModelOptions>(services)),
            new(nameof(BatchingOptions), "Batching", h => h.Registration.UseBatching, "call UseBatching() on its builder", NamesOf<BatchingOptions>(services)),
            new(nameof(CachingOptions), "Caching", h => h.Registration.UseCaching, "call UseCaching() on its builder", NamesOf<CachingOptions>(services)),
            new(nameof(MonitoringOptions), "Monitoring", h => monitored.Contains(h.Name), "call UseMonitoring() on its builder", NamesOf<MonitoringOptions>(services)),
        ];

        var byName = hosts.ToDictionary(h => h.Name, StringComparer.Ordinal);
        foreach (var feature in features)
        {
            foreach (var name in feature.ConfiguredNames)
            {
                var where = $"named options \"{name}\" (Configure<{feature.OptionsType}>(\"{name}\", ...) or a binding)";
                if (!byName.TryGetValue(name, out var host))
                {
                    if (name.Length == 0)
                    {
                        Log.OptionsForUnnamedModel(logger, feature.OptionsType);
                    }
                    else
                    {
                        Log.OptionsForUnknownModel(logger, feature.OptionsType, name, where, Nearest(name, byName.Keys));
                    }
                }
                else if (!feature.Enabled(host))
                {
                    Log.OptionsForDisabledFeature(logger, name, feature.OptionsType, where, feature.Enable);
                }
            }
        }

        if (services.GetService<IConfiguration>()?.GetSection(ModelsSection) is { } section)
        {
            CheckSection(section, byName, features, logger);
        }

        foreach (var host in hosts)
        {
            CheckModelOptions(host, logger);
        }
    }

    /// <summary>The configuration's <c>Models</c> section: each child should be a registered model (configuration keys ignore case).</summary>
    private static void CheckSection(IConfigurationSection section, Dictionary<string, ModelHost> byName, Feature[] features, ILogger logger)
    {
        foreach (var child in section.GetChildren())
        {
            var host = byName.Values.FirstOrDefault(h => string.Equals(h.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (host is null)
            {
                Log.OptionsForUnknownModel(logger, "Settings", child.Key, $"configuration section {child.Path}", Nearest(child.Key, byName.Keys));
                continue;
            }

            foreach (var feature in features)
            {
                if (feature.Section is { } sub && child.GetSection(sub).Exists() && !feature.Enabled(host))
                {
                    Log.OptionsForDisabledFeature(logger, host.Name, feature.OptionsType, $"configuration section {child.Path}:{sub}", feature.Enable);
                }
            }
        }
    }

    /// <summary>Model settings that only matter with another setting that is off.</summary>
    private static void CheckModelOptions(ModelHost host, ILogger logger)
    {
        var options = host.Options;
        if (!options.WatchForChanges && options.ReloadDebounce != Defaults.ReloadDebounce)
        {
            Log.OptionsForDisabledFeature(logger, host.Name, "ModelOptions.ReloadDebounce", $"set to {options.ReloadDebounce}", "set ModelOptions.WatchForChanges = true (the debounce only delays reloads of a watched file)");
        }

        if (string.Equals(options.ExecutionProvider, "CPU", StringComparison.OrdinalIgnoreCase))
        {
            if (options.DeviceId != 0)
            {
                Log.OptionsForDisabledFeature(logger, host.Name, "ModelOptions.DeviceId", $"set to {options.DeviceId}", "set ModelOptions.ExecutionProvider to a GPU provider (the CPU provider has no device)");
            }

            if (options.ExecutionProviderOptions.Count > 0)
            {
                Log.OptionsForDisabledFeature(logger, host.Name, "ModelOptions.ExecutionProviderOptions", $"set ({string.Join(", ", options.ExecutionProviderOptions.Keys)})", "set ModelOptions.ExecutionProvider to the provider they are for (the CPU provider takes none)");
            }
        }
    }

    /// <summary>The names options of type <typeparamref name="T"/> were configured for (null, "all names", is left out).</summary>
    private static SortedSet<string> NamesOf<T>(IServiceProvider services)
        where T : class
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var configure in services.GetServices<IConfigureOptions<T>>())
        {
            if (configure is ConfigureNamedOptions<T> { Name: { } name })
            {
                names.Add(name);
            }
        }

        foreach (var postConfigure in services.GetServices<IPostConfigureOptions<T>>())
        {
            if (postConfigure is PostConfigureOptions<T> { Name: { } name })
            {
                names.Add(name);
            }
        }

        foreach (var source in services.GetServices<IOptionsChangeTokenSource<T>>())
        {
            if (source.Name is { } name)
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>The registered name closest to <paramref name="name"/> (edit distance, ignoring case), or "(none registered)".</summary>
    internal static string Nearest(string name, IEnumerable<string> registered)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in registered.Order(StringComparer.Ordinal))
        {
            var distance = Distance(name.ToUpperInvariant(), candidate.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return best is null ? "(none registered)" : $"'{best}'";
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours ("irsi" is 1 from "iris").</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    private static class Defaults
    {
        public static readonly TimeSpan ReloadDebounce = new ModelOptions().ReloadDebounce;
    }
}
