using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using ModelInService.Sessions;

namespace ModelInService.Hosting;

/// <summary>
/// Reports run-time changes of a model's options (configuration reloaded, e.g. appsettings.json with reloadOnChange):
/// the library reads <see cref="ModelOptions"/>, <see cref="BatchingOptions"/> and <see cref="CachingOptions"/> once,
/// when the model starts, so a change takes effect only after a restart. Instead of ignoring it silently, each change
/// is logged (event 1030) with the settings that differ from the ones in use and whether the new values would pass
/// validation. Listens to the same change tokens as <see cref="IOptionsMonitor{TOptions}"/> (the
/// <see cref="IOptionsChangeTokenSource{TOptions}"/> a configuration binding registers), and builds the new values
/// itself: the monitor throws on invalid values instead of reporting them.
/// </summary>
internal sealed class OptionsChangeReporter : IDisposable
{
    /// <summary>The change-token registrations; disposed with the registry.</summary>
    private readonly List<IDisposable> _subscriptions = [];

    private readonly ILogger _logger;

    private OptionsChangeReporter(ILogger logger) => _logger = logger;

    public static OptionsChangeReporter Start(IServiceProvider services, IReadOnlyCollection<ModelHost> hosts, ILogger logger)
    {
        var reporter = new OptionsChangeReporter(logger);
        foreach (var host in hosts)
        {
            reporter.Watch(services, host.Name, host.Options);
            if (host.BatchingOptions is { } batching)
            {
                reporter.Watch(services, host.Name, batching);
            }

            if (host.Registration.UseCaching && TryBuild<CachingOptions>(services, host.Name, out var caching, out _))
            {
                // What the cache was built with: the same sources, read at the same start-up.
                reporter.Watch(services, host.Name, caching);
            }
        }

        return reporter;
    }

    public void Dispose()
    {
        lock (_subscriptions)
        {
            foreach (var subscription in _subscriptions)
            {
                subscription.Dispose();
            }

            _subscriptions.Clear();
        }
    }

    private void Watch<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(
        IServiceProvider services, string model, T inUse)
        where T : class, new()
    {
        var baseline = Describe(inUse);
        string? lastReported = null;
        foreach (var source in services.GetServices<IOptionsChangeTokenSource<T>>())
        {
            if (source.Name != model)
            {
                continue;
            }

            _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, () =>
            {
                var valid = TryBuild<T>(services, model, out var changed, out var failures);
                var now = Describe(changed);
                var differences = baseline.Where(p => now.TryGetValue(p.Key, out var value) && value != p.Value)
                    .Select(p => $"{p.Key}: {p.Value} -> {now[p.Key]}")
                    .ToList();
                var report = string.Join("; ", differences) + (valid ? "" : " | " + string.Join(" ", failures));
                lock (_subscriptions)
                {
                    // A file save often raises two change events, and any configuration reload raises every source's:
                    // log what is new, once.
                    if ((differences.Count == 0 && valid) || report == lastReported)
                    {
                        lastReported = differences.Count == 0 && valid ? null : lastReported;
                        return;
                    }

                    lastReported = report;
                }

                Log.OptionsChangedAtRunTime(_logger, model, typeof(T).Name,
                    differences.Count == 0 ? "no setting the library compares (collections of callbacks, Source) differs" : string.Join("; ", differences),
                    valid ? "valid" : "invalid (the start would fail with the same values): " + string.Join(" ", failures));
            }));
        }
    }

    /// <summary>Builds the options as <see cref="OptionsFactory{TOptions}"/> does, but reports validation failures instead of throwing them.</summary>
    private static bool TryBuild<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(
        IServiceProvider services, string name, out T options, out IReadOnlyList<string> failures)
        where T : class, new()
    {
        options = new T();
        var found = new List<string>();
        try
        {
            foreach (var configure in services.GetServices<IConfigureOptions<T>>())
            {
                if (configure is IConfigureNamedOptions<T> named)
                {
                    named.Configure(name, options);
                }
                else if (name == Options.DefaultName)
                {
                    configure.Configure(options);
                }
            }

            foreach (var postConfigure in services.GetServices<IPostConfigureOptions<T>>())
            {
                postConfigure.PostConfigure(name, options);
            }

            foreach (var validator in services.GetServices<IValidateOptions<T>>())
            {
                if (validator.Validate(name, options) is { Failed: true } result)
                {
                    found.AddRange(result.Failures ?? [result.FailureMessage]);
                }
            }
        }
#pragma warning disable CA1031 // A binding error (e.g. "abc" for an int) is reported as what it is, not thrown from a change callback.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            found.Add(ex.Message);
        }

        failures = found;
        return found.Count == 0;
    }

    /// <summary>The options' public settings as text, by name: values, collections by content, sources by description; callbacks left out.</summary>
    private static Dictionary<string, string> Describe<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(T options)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || !property.CanRead || typeof(Delegate).IsAssignableFrom(property.PropertyType))
            {
                continue;
            }

            settings[property.Name] = Text(property.GetValue(options));
        }

        return settings;
    }

    private static string Text(object? value) => value switch
    {
        null => "null",
        string s => s,
        ModelSource source => source.Description,
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        IDictionary dictionary => "{" + string.Join(", ", dictionary.Keys.Cast<object>().Select(k => Text(k) + "=" + Text(dictionary[k])).Order(StringComparer.Ordinal)) + "}",
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Text)) + "]",
        _ => value.ToString() ?? "",
    };
}
