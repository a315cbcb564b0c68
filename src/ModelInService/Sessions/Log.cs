using Microsoft.Extensions.Logging;

namespace ModelInService.Sessions;

/// <summary>Log messages of the model runtime. Event ids 1000-1099; values of inputs are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, EventName = "ModelLoading", Level = LogLevel.Information, Message = "Loading model '{ModelName}' from {Source}")]
    public static partial void ModelLoading(ILogger logger, string modelName, string source);

    [LoggerMessage(EventId = 1001, EventName = "ModelLoaded", Level = LogLevel.Information,
        Message = "Model '{ModelName}' ready in {ElapsedMs} ms: {Copies} cop(ies), {MaxConcurrency} concurrent runs, {IntraOpThreads} intra-op thread(s) each, provider {Provider}; inputs {Inputs}; outputs {Outputs}; batching: {Batching}")]
    public static partial void ModelLoaded(ILogger logger, string modelName, long elapsedMs, int copies, int maxConcurrency, int intraOpThreads, string provider, string inputs, string outputs, string batching);

    [LoggerMessage(EventId = 1016, EventName = "ModelNotBatchable", Level = LogLevel.Warning,
        Message = "Model '{ModelName}' uses batching but cannot run several rows together: {Reason}. Requests run one at a time. Set the batch axes (ModelOptions.BatchAxes), remove UseBatching(), or set BatchingOptions.RequireBatching = true to fail start-up instead.")]
    public static partial void ModelNotBatchable(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 1002, EventName = "ModelLoadFailed", Level = LogLevel.Error, Message = "Model '{ModelName}' failed to load")]
    public static partial void ModelLoadFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 1003, EventName = "ExecutionProviderFallback", Level = LogLevel.Warning,
        Message = "Execution provider '{Provider}' is not available for model '{ModelName}' ({Reason}); falling back to CPU. Set ExecutionProviderRequired = true to fail instead.")]
    public static partial void ExecutionProviderFallback(ILogger logger, string modelName, string provider, string reason);

    [LoggerMessage(EventId = 1004, EventName = "WarmupFailed", Level = LogLevel.Warning,
        Message = "Warm-up of model '{ModelName}' with a synthetic input failed; the model is served anyway")]
    public static partial void WarmupFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 1005, EventName = "WarmupSkipped", Level = LogLevel.Debug,
        Message = "Warm-up of model '{ModelName}' skipped: input '{InputName}' is not a tensor")]
    public static partial void WarmupSkipped(ILogger logger, string modelName, string inputName);

    [LoggerMessage(EventId = 1006, EventName = "ModelUnloaded", Level = LogLevel.Information, Message = "Model '{ModelName}' unloaded")]
    public static partial void ModelUnloaded(ILogger logger, string modelName);

    [LoggerMessage(EventId = 1008, EventName = "ModelReloadFailed", Level = LogLevel.Error, Message = "Reloading model '{ModelName}' failed; the current version keeps serving")]
    public static partial void ReloadFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 1024, EventName = "ModelCandidateLoadFailed", Level = LogLevel.Error, Message = "Loading a candidate of model '{ModelName}' from {Source} failed; the current version keeps serving alone")]
    public static partial void CandidateLoadFailed(ILogger logger, string modelName, string? source, Exception exception);

    [LoggerMessage(EventId = 1023, EventName = "ModelFallbackFailed", Level = LogLevel.Warning,
        Message = "Model '{ModelName}' failed ({ModelError}) and so did its fallback; the caller gets the model's error")]
    public static partial void FallbackFailed(ILogger logger, string modelName, string modelError, Exception exception);

    [LoggerMessage(EventId = 1022, EventName = "ModelSignatureChanged", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': version {NewVersion} changes the signature of version {OldVersion}: was {Before}; now {After}. Requests written for the old signature may fail")]
    public static partial void SignatureChanged(ILogger logger, string modelName, long oldVersion, long newVersion, string before, string after);

    [LoggerMessage(EventId = 1009, EventName = "ModelVersionChanged", Level = LogLevel.Information, Message = "Model '{ModelName}' now serves version {NewVersion} (sha256 {Sha256}), replacing version {OldVersion}")]
    public static partial void VersionChanged(ILogger logger, string modelName, long oldVersion, long newVersion, string sha256);

    [LoggerMessage(EventId = 1010, EventName = "ModelFileChanged", Level = LogLevel.Information, Message = "Model file of '{ModelName}' changed ({Path}); reloading")]
    public static partial void FileChanged(ILogger logger, string modelName, string path);

    [LoggerMessage(EventId = 1011, EventName = "SharedAllocatorCreated", Level = LogLevel.Information, Message = "Model '{ModelName}' created the process-wide shared CPU arena (limit {MaxBytes} bytes; 0 = none)")]
    public static partial void SharedAllocatorCreated(ILogger logger, string modelName, long maxBytes);

    [LoggerMessage(EventId = 1012, EventName = "SharedAllocatorMismatch", Level = LogLevel.Warning, Message = "Model '{ModelName}' asks for a shared CPU arena limited to {MaxBytes} bytes, but the process-wide one already exists with {ExistingBytes} (the first model to load sets it)")]
    public static partial void SharedAllocatorMismatch(ILogger logger, string modelName, long maxBytes, long existingBytes);

    [LoggerMessage(EventId = 1013, EventName = "ModelVersionPinned", Level = LogLevel.Information, Message = "Model '{ModelName}' is pinned to version {Version} {VersionName}: reloads, rollbacks and promotions are refused until unpinned")]
    public static partial void VersionPinned(ILogger logger, string modelName, long version, string versionName);

    [LoggerMessage(EventId = 1014, EventName = "ModelVersionUnpinned", Level = LogLevel.Information, Message = "Model '{ModelName}' is no longer pinned")]
    public static partial void VersionUnpinned(ILogger logger, string modelName);

    [LoggerMessage(EventId = 1015, EventName = "ModelReloadSkippedPinned", Level = LogLevel.Warning, Message = "Model file of '{ModelName}' changed, but the model is pinned: not reloaded")]
    public static partial void ReloadSkippedPinned(ILogger logger, string modelName);

    [LoggerMessage(EventId = 1007, EventName = "ModelDisposeFailed", Level = LogLevel.Error, Message = "Model '{ModelName}' failed to unload cleanly")]
    public static partial void ModelDisposeFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 1017, EventName = "ZipMapRemoved", Level = LogLevel.Information, Message = "Model '{ModelName}': output '{Output}' is built in managed code from tensor '{Tensor}' ({Classes} classes); its ZipMap node was removed from the graph (same values, no native map per row; ModelOptions.RemoveZipMap = false keeps it)")]
    public static partial void ZipMapRemoved(ILogger logger, string modelName, string output, string tensor, int classes);

    [LoggerMessage(EventId = 1018, EventName = "ZipMapKept", Level = LogLevel.Information, Message = "Model '{ModelName}': ZipMap kept in the graph: {Reason}")]
    public static partial void ZipMapKept(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 1019, EventName = "OnnxRuntimeMessage", Message = "ONNX Runtime ({LogId}, {Category}, {CodeLocation}): {OrtMessage}")]
    public static partial void OnnxRuntimeMessage(ILogger logger, LogLevel level, string logId, string category, string codeLocation, string ortMessage);

    [LoggerMessage(EventId = 1020, EventName = "OnnxRuntimeLogNotRouted", Level = LogLevel.Debug,
        Message = "Model '{ModelName}': ONNX Runtime's environment was created before the library's first use of it, so ONNX Runtime's own messages go to its default logger (standard error), not to ILogger")]
    public static partial void OnnxRuntimeLogNotRouted(ILogger logger, string modelName);

    [LoggerMessage(EventId = 1021, EventName = "OnnxRuntimeMessagesHeldBack", Level = LogLevel.Warning,
        Message = "ONNX Runtime ({LogId}, {CodeLocation}): {Count} more messages from here were not logged in the last minute (at most {PerMinute} a minute from one place)")]
    public static partial void OnnxRuntimeMessagesHeldBack(ILogger logger, string logId, string codeLocation, long count, int perMinute);

    [LoggerMessage(EventId = 1025, EventName = "ModelWatchUnavailable", Level = LogLevel.Warning,
        Message = "Model '{ModelName}' cannot be watched for changes (WatchForChanges): {Reason}. Create the directory and restart to have a corrected file loaded")]
    public static partial void WatchUnavailable(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 1026, EventName = "ModelLoadedAfterFailure", Level = LogLevel.Information,
        Message = "Model '{ModelName}', which had failed to load, loaded after its file changed ({Path}); it now serves")]
    public static partial void LoadedAfterFailure(ILogger logger, string modelName, string path);

    [LoggerMessage(EventId = 1027, EventName = "ModelOptionsForUnknownModel", Level = LogLevel.Warning,
        Message = "{OptionsType} configured for model '{ConfiguredName}' ({Where}), but no model of that name is registered (names are case-sensitive): the settings are ignored. Nearest registered model: {Nearest}")]
    public static partial void OptionsForUnknownModel(ILogger logger, string optionsType, string configuredName, string where, string nearest);

    [LoggerMessage(EventId = 1028, EventName = "ModelOptionsForUnnamedModel", Level = LogLevel.Warning,
        Message = "{OptionsType} configured without a model name (the default, unnamed options), which no model reads: the settings are ignored. Name the model (Configure<{OptionsType}>(\"iris\", ...)) or use ConfigureAll<{OptionsType}>(...) to set every model")]
    public static partial void OptionsForUnnamedModel(ILogger logger, string optionsType);

    [LoggerMessage(EventId = 1029, EventName = "ModelOptionsForDisabledFeature", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Settings} configured ({Where}), but the feature they belong to is off: they have no effect. To use them, {Enable}")]
    public static partial void OptionsForDisabledFeature(ILogger logger, string modelName, string settings, string where, string enable);

    [LoggerMessage(EventId = 1030, EventName = "ModelOptionsChangedAtRunTime", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {OptionsType} changed at run time ({Changes}), but options are read once, when the model starts: the change takes effect only after a restart. The new values are {Validation}")]
    public static partial void OptionsChangedAtRunTime(ILogger logger, string modelName, string optionsType, string changes, string validation);
}
