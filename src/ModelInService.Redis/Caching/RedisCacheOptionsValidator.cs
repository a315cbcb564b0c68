using Microsoft.Extensions.Options;

namespace ModelInService.Redis.Caching;

/// <summary>Validates <see cref="RedisCacheOptions"/> at start-up.</summary>
internal sealed class RedisCacheOptionsValidator : IValidateOptions<RedisCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisCacheOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        if (options.LookupTimeout <= TimeSpan.Zero || options.LookupTimeout > TimeSpan.FromSeconds(1))
        {
            failures.Add($"Model '{model}': RedisCacheOptions.LookupTimeout is {options.LookupTimeout}; use more than 0 and at most 1 s (5-20 ms is typical).");
        }

        if (options.TimeToLive < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Model '{model}': RedisCacheOptions.TimeToLive is {options.TimeToLive}; use 1 second or more.");
        }

        if (options.MaxEntryBytes < 64)
        {
            failures.Add($"Model '{model}': RedisCacheOptions.MaxEntryBytes is {options.MaxEntryBytes}; use 64 or more.");
        }

        if (options.WriteQueueCapacity < 1)
        {
            failures.Add($"Model '{model}': RedisCacheOptions.WriteQueueCapacity is {options.WriteQueueCapacity}; use 1 or more.");
        }

        if (string.IsNullOrEmpty(options.KeyPrefix))
        {
            failures.Add($"Model '{model}': RedisCacheOptions.KeyPrefix is empty; use a prefix such as 'mis:cache:'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
