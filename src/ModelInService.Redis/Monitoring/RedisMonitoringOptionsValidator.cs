using Microsoft.Extensions.Options;

namespace ModelInService.Redis.Monitoring;

/// <summary>Validates <see cref="RedisMonitoringOptions"/> at start-up, together with the model's <see cref="MonitoringOptions"/>.</summary>
internal sealed class RedisMonitoringOptionsValidator(IOptionsMonitor<MonitoringOptions> monitoring) : IValidateOptions<RedisMonitoringOptions>
{
    /// <summary>The longest key prefix and replica id (they are part of every key).</summary>
    internal const int MaxNameLength = 200;

    public ValidateOptionsResult Validate(string? name, RedisMonitoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var interval = monitoring.Get(name).IntervalLength;
        var at = $"Model '{name}': RedisMonitoringOptions.";
        if (string.IsNullOrEmpty(options.KeyPrefix) || options.KeyPrefix.Length > MaxNameLength || options.KeyPrefix.AsSpan().IndexOfAny("{}") >= 0)
        {
            failures.Add($"{at}KeyPrefix '{options.KeyPrefix}' must be 1 to {MaxNameLength} characters without braces.");
        }

        if (options.ReplicaId is { } replica && (replica.Length == 0 || replica.Length > MaxNameLength || replica.Contains(':', StringComparison.Ordinal)))
        {
            failures.Add($"{at}ReplicaId '{replica}' must be 1 to {MaxNameLength} characters without ':'.");
        }

        if (options.SyncInterval <= TimeSpan.Zero)
        {
            failures.Add($"{at}SyncInterval ({options.SyncInterval}) must be positive.");
        }

        if (options.LeasePeriod < TimeSpan.FromMilliseconds(100) || options.SyncInterval * 3 > options.LeasePeriod)
        {
            failures.Add($"{at}LeasePeriod ({options.LeasePeriod}) must be at least 100 ms and at least three SyncIntervals ({options.SyncInterval}), so the holder renews in time.");
        }

        if (options.EvaluationDelay < TimeSpan.Zero || options.EvaluationDelay >= interval)
        {
            failures.Add($"{at}EvaluationDelay ({options.EvaluationDelay}) must be at least zero and shorter than the monitor's IntervalLength ({interval}).");
        }

        if (options.OperationTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{at}OperationTimeout ({options.OperationTimeout}) must be positive.");
        }

        if (options.MaxBufferedIntervals is < 1 or > 100_000)
        {
            failures.Add($"{at}MaxBufferedIntervals ({options.MaxBufferedIntervals}) must be 1 to 100,000.");
        }

        if (options.MaxEntryBytes is < 1024 or > 512 * 1024 * 1024)
        {
            failures.Add($"{at}MaxEntryBytes ({options.MaxEntryBytes}) must be 1 KiB to 512 MiB.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
