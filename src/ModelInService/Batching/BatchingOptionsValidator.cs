using Microsoft.Extensions.Options;

namespace ModelInService.Batching;

/// <summary>Validates <see cref="BatchingOptions"/> at start-up; every message says what to change.</summary>
internal sealed class BatchingOptionsValidator : IValidateOptions<BatchingOptions>
{
    /// <summary>The longest finite time a timer accepts (about 49.7 days).</summary>
    internal static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public ValidateOptionsResult Validate(string? name, BatchingOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        if (options.MaxBatchSize is < 1 or > 65_536)
        {
            failures.Add($"Model '{model}': BatchingOptions.MaxBatchSize is {options.MaxBatchSize}; use 1 to 65536.");
        }

        if (options.MaxDelay < TimeSpan.Zero || options.MaxDelay > TimeSpan.FromSeconds(10))
        {
            failures.Add($"Model '{model}': BatchingOptions.MaxDelay is {options.MaxDelay}; use 0 to 10 seconds (a few milliseconds is typical).");
        }

        if (options.MaxQueueSize is < 1 or > 1 << 20)
        {
            failures.Add($"Model '{model}': BatchingOptions.MaxQueueSize is {options.MaxQueueSize}; use 1 to 1,048,576 (there is no unbounded queue).");
        }

        if (options.DefaultTimeout != Timeout.InfiniteTimeSpan && (options.DefaultTimeout <= TimeSpan.Zero || options.DefaultTimeout > MaxTimer))
        {
            failures.Add($"Model '{model}': BatchingOptions.DefaultTimeout is {options.DefaultTimeout}; use a positive time up to {MaxTimer.TotalDays:0} days, or Timeout.InfiniteTimeSpan.");
        }

        if (options.StarvationLimit < 1)
        {
            failures.Add($"Model '{model}': BatchingOptions.StarvationLimit is {options.StarvationLimit}; use 1 or more.");
        }

        if (options.DrainTimeout < TimeSpan.Zero || options.DrainTimeout > MaxTimer)
        {
            failures.Add($"Model '{model}': BatchingOptions.DrainTimeout is {options.DrainTimeout}; use 0 to {MaxTimer.TotalDays:0} days.");
        }

        foreach (var size in options.PreferredBatchSizes)
        {
            if (size < 1 || size > options.MaxBatchSize)
            {
                failures.Add($"Model '{model}': preferred batch size {size} is outside 1..MaxBatchSize ({options.MaxBatchSize}).");
            }
        }

        if (!Enum.IsDefined(options.DeadlineAction))
        {
            failures.Add($"Model '{model}': DeadlineAction is {options.DeadlineAction}; use Reject or Delay.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
