using Microsoft.Extensions.Options;

namespace ModelInService.Caching;

/// <summary>Validates <see cref="CachingOptions"/> at start-up.</summary>
internal sealed class CachingOptionsValidator : IValidateOptions<CachingOptions>
{
    public ValidateOptionsResult Validate(string? name, CachingOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        if (options.MaxEntries < 1)
        {
            failures.Add($"Model '{model}': CachingOptions.MaxEntries is {options.MaxEntries}; use 1 or more.");
        }

        if (options.MaxBytes < 1024)
        {
            failures.Add($"Model '{model}': CachingOptions.MaxBytes is {options.MaxBytes}; use at least 1024.");
        }

        if (options.TimeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            failures.Add($"Model '{model}': CachingOptions.TimeToLive is {ttl}; use a positive time or null (no expiry).");
        }

        if (options.BypassBelowHitRate is < 0 or > 1 || double.IsNaN(options.BypassBelowHitRate))
        {
            failures.Add($"Model '{model}': CachingOptions.BypassBelowHitRate is {options.BypassBelowHitRate}; use 0 (never bypass) to 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
