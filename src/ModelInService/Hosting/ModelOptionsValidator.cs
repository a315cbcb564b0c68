using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Sessions;

namespace ModelInService.Hosting;

/// <summary>Validates <see cref="ModelOptions"/> at start-up; every message says what to change.</summary>
/// <param name="environment">The host's environment: relative model paths resolve against its content root (null without a host).</param>
internal sealed class ModelOptionsValidator(IHostEnvironment? environment = null) : IValidateOptions<ModelOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelOptions options)
    {
        var model = name ?? "";
        var failures = new List<string>();
        const int MaxConcurrencyLimit = 1024, MaxThreadsLimit = 256, MaxWarmupRuns = 1000;
        if (options.Source is null)
        {
            failures.Add($"Model '{model}': ModelOptions.Source is not set. Use AddModel<TIn, TOut>(\"path/to/model.onnx\") or set options.Source = ModelSource.FromFile(...).");
        }
        else if (options.Source.PathProblem(environment?.ContentRootPath) is { } problem)
        {
            failures.Add($"Model '{model}': the file path of ModelOptions.Source (ModelSource.FromFile) {problem}.");
        }

        // Upper bounds too: MaxConcurrency = int.MaxValue made every generation's disposal wait 2^31 times, WarmupRuns =
        // int.MaxValue never finished starting, 100,000 intra-op threads never finished creating them.
        if (options.MaxConcurrency is < 0 or > MaxConcurrencyLimit)
        {
            failures.Add($"Model '{model}': ModelOptions.MaxConcurrency is {options.MaxConcurrency}; use 0 (one per core) or 1 to {MaxConcurrencyLimit:N0}.");
        }

        if (options.SessionCopies > MaxConcurrencyLimit)
        {
            failures.Add($"Model '{model}': ModelOptions.SessionCopies is {options.SessionCopies}; use at most {MaxConcurrencyLimit:N0}.");
        }

        if (options.IntraOpThreads > MaxThreadsLimit)
        {
            failures.Add($"Model '{model}': ModelOptions.IntraOpThreads is {options.IntraOpThreads}; use at most {MaxThreadsLimit}.");
        }

        if (options.WarmupRuns > MaxWarmupRuns)
        {
            failures.Add($"Model '{model}': WarmupRuns is {options.WarmupRuns}; use at most {MaxWarmupRuns:N0}.");
        }

        if (options.VersionName is { } versionName && string.IsNullOrWhiteSpace(versionName))
        {
            failures.Add($"Model '{model}': VersionName is blank; leave it null or give it a name.");
        }

        if (!Enum.IsDefined(options.GraphOptimizationLevel))
        {
            failures.Add($"Model '{model}': GraphOptimizationLevel is {(int)options.GraphOptimizationLevel}; use one of {string.Join(", ", Enum.GetNames<Microsoft.ML.OnnxRuntime.GraphOptimizationLevel>())}.");
        }

        if (options.SessionCopies < 0)
        {
            failures.Add($"Model '{model}': ModelOptions.SessionCopies is {options.SessionCopies}; use 0 (one per concurrent run) or more.");
        }

        if (options.IntraOpThreads < 0)
        {
            failures.Add($"Model '{model}': ModelOptions.IntraOpThreads is {options.IntraOpThreads}; use 0 (automatic) or a positive number.");
        }

        if (options.SessionCopies >= 0 && options.IntraOpThreads >= 0 && options.MaxConcurrency >= 0 && !options.AllowThreadOversubscription)
        {
            var plan = ThreadPlan.For(options);
            var cores = Environment.ProcessorCount;
            var threads = (long)plan.Copies * plan.IntraOpThreads;
            if (threads > cores)
            {
                failures.Add($"Model '{model}': SessionCopies ({plan.Copies}) x IntraOpThreads ({plan.IntraOpThreads}) = {threads} threads, more than the {cores} cores; "
                    + "lower IntraOpThreads or SessionCopies (IntraOpThreads = 0 picks cores / MaxConcurrency), or set AllowThreadOversubscription = true.");
            }

            if (plan.Copies > plan.MaxConcurrency)
            {
                failures.Add($"Model '{model}': SessionCopies ({options.SessionCopies}) is more than MaxConcurrency ({plan.MaxConcurrency}); the extra copies would never run. Lower SessionCopies or raise MaxConcurrency.");
            }
        }

        if (string.IsNullOrWhiteSpace(options.ExecutionProvider) || !ModelLoader.Providers.ContainsKey(options.ExecutionProvider))
        {
            failures.Add($"Model '{model}': ExecutionProvider '{options.ExecutionProvider}' is unknown; use one of {string.Join(", ", ModelLoader.Providers.Keys)}.");
        }

        if (options.DeviceId < 0)
        {
            failures.Add($"Model '{model}': DeviceId is {options.DeviceId}; use 0 or more.");
        }

        if (options.WarmupRuns < 0)
        {
            failures.Add($"Model '{model}': WarmupRuns is {options.WarmupRuns}; use 0 (no warm-up) or more.");
        }

        if (options.MaxStringLength < 1)
        {
            failures.Add($"Model '{model}': MaxStringLength is {options.MaxStringLength}; use 1 or more.");
        }

        if (options.MaxVariableElements < 1)
        {
            failures.Add($"Model '{model}': MaxVariableElements is {options.MaxVariableElements}; use 1 or more.");
        }

        if (options.SharedArenaMaxBytes < 0 || options.SharedArenaMaxBytes > uint.MaxValue)
        {
            failures.Add($"Model '{model}': SharedArenaMaxBytes is {options.SharedArenaMaxBytes}; use 0 (no limit) up to {uint.MaxValue} (ONNX Runtime's arena limit is 32-bit).");
        }
        else if (options.SharedArenaMaxBytes > 0 && !options.UseSharedAllocator)
        {
            failures.Add($"Model '{model}': SharedArenaMaxBytes is set but UseSharedAllocator is false; set UseSharedAllocator = true, or remove the limit.");
        }

        if (options.MaxRowsPerRun < 1)
        {
            failures.Add($"Model '{model}': MaxRowsPerRun is {options.MaxRowsPerRun}; use 1 or more.");
        }

        if (options.ReloadDebounce < TimeSpan.Zero || options.ReloadDebounce > TimeSpan.FromHours(1))
        {
            failures.Add($"Model '{model}': ReloadDebounce is {options.ReloadDebounce}; use 0 to 1 hour.");
        }

        if (options.BatchAxis is < -1)
        {
            failures.Add($"Model '{model}': BatchAxis is {options.BatchAxis}; use null (automatic), -1 (no batch axis) or a dimension index (0 or more).");
        }

        foreach (var (tensor, axis) in options.BatchAxes)
        {
            if (axis < -1)
            {
                failures.Add($"Model '{model}': BatchAxes[\"{tensor}\"] is {axis}; use -1 (no batch axis) or a dimension index (0 or more).");
            }
        }

        if (!Enum.IsDefined(options.NonFiniteValues))
        {
            failures.Add($"Model '{model}': NonFiniteValues is {options.NonFiniteValues}; use Reject or Allow.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
