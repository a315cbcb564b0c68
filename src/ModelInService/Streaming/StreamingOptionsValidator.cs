using Microsoft.Extensions.Options;
using ModelInService.Batching;

namespace ModelInService.Streaming;

/// <summary>Validates <see cref="StreamingOptions"/> at start-up; every message says what to change. The declarations are checked against the model when it loads.</summary>
internal sealed class StreamingOptionsValidator : IValidateOptions<StreamingOptions>
{
    public ValidateOptionsResult Validate(string? name, StreamingOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        if (options.MaxStreams is < 1 or > 1_000_000)
        {
            failures.Add($"Model '{model}': StreamingOptions.MaxStreams is {options.MaxStreams}; use 1 to 1000000.");
        }

        if (options.IdleTimeout != Timeout.InfiniteTimeSpan && (options.IdleTimeout <= TimeSpan.Zero || options.IdleTimeout > BatchingOptionsValidator.MaxTimer))
        {
            failures.Add($"Model '{model}': StreamingOptions.IdleTimeout is {options.IdleTimeout}; use a positive time, or Timeout.InfiniteTimeSpan to never expire streams.");
        }

        if (options.ContextInput is null && options.ContextLength != 0)
        {
            failures.Add($"Model '{model}': StreamingOptions.ContextLength is {options.ContextLength} but no ContextInput is set; set both (Silero VAD: ContextInput = \"input\", ContextLength = 64) or neither.");
        }

        if (options.ContextInput is not null && options.ContextLength is < 1 or > 1_048_576)
        {
            failures.Add($"Model '{model}': StreamingOptions.ContextLength is {options.ContextLength} with ContextInput '{options.ContextInput}'; use 1 to 1048576.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var state in options.States)
        {
            if (state is null || string.IsNullOrEmpty(state.Input) || string.IsNullOrEmpty(state.Output))
            {
                failures.Add($"Model '{model}': a StreamingOptions.States entry has no input or output name.");
                continue;
            }

            if (!seen.Add(state.Input))
            {
                failures.Add($"Model '{model}': state input '{state.Input}' is declared twice in StreamingOptions.States.");
            }

            if (state.BatchAxis < -1)
            {
                failures.Add($"Model '{model}': state '{state.Input}' has batch axis {state.BatchAxis}; use the axis index, or -1 to find the free dimension.");
            }
        }

        foreach (var (input, value) in options.Constants)
        {
            if (value is not (long or int or float or double))
            {
                failures.Add($"Model '{model}': constant '{input}' is a {value?.GetType().Name ?? "null"}; use a long, int, float or double.");
            }
        }

        var batching = new BatchingOptionsValidator().Validate(name, options.Batching);
        if (batching.Failed && batching.Failures is { } more)
        {
            failures.AddRange(more);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
