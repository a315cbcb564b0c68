using Microsoft.Extensions.Options;

namespace ModelInService.Redis;

/// <summary>Options of <see cref="ModelOperationsServiceCollectionExtensions.AddModelClusterOperations"/>.</summary>
public sealed class ModelOperationsOptions
{
    /// <summary>Gets or sets the StackExchange.Redis configuration string, e.g. <c>redis:6379</c> (required).</summary>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the prefix of every key and of the channel (default <c>mis:ops</c>); replicas of one app share it.</summary>
    public string KeyPrefix { get; set; } = "mis:ops";

    /// <summary>
    /// Gets or sets this replica's id in the cluster view (e.g. the pod name); default: machine name, process id and
    /// a random suffix, unique per service provider.
    /// </summary>
    public string? ReplicaId { get; set; }

    /// <summary>
    /// Gets or sets how often the replica writes its heartbeat (serving version, time) and checks the stored desired
    /// state for a revision it missed (default 5 s).
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets how long a heartbeat stays in Redis: a replica silent that long leaves the cluster view (default 15 s; at least twice <see cref="HeartbeatInterval"/>).</summary>
    public TimeSpan HeartbeatTtl { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Checks <see cref="ModelOperationsOptions"/> at start.</summary>
internal sealed class ModelOperationsOptionsValidator : IValidateOptions<ModelOperationsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelOperationsOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            errors.Add("ModelOperationsOptions.Configuration (the Redis configuration string) is required.");
        }

        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            errors.Add("ModelOperationsOptions.KeyPrefix must not be empty.");
        }

        if (options.ReplicaId is { } id && (string.IsNullOrWhiteSpace(id) || id.Contains('\n', StringComparison.Ordinal)))
        {
            errors.Add("ModelOperationsOptions.ReplicaId must be null or a non-empty single line.");
        }

        if (options.HeartbeatInterval <= TimeSpan.Zero)
        {
            errors.Add($"ModelOperationsOptions.HeartbeatInterval must be positive (was {options.HeartbeatInterval}).");
        }
        else if (options.HeartbeatTtl < 2 * options.HeartbeatInterval)
        {
            errors.Add($"ModelOperationsOptions.HeartbeatTtl ({options.HeartbeatTtl}) must be at least twice HeartbeatInterval ({options.HeartbeatInterval}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
