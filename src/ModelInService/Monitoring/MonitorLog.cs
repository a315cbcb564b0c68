using Microsoft.Extensions.Logging;

namespace ModelInService.Monitoring;

/// <summary>Log messages of the monitor. Event ids 3000-3099; feature values are never logged, only distances and shares.</summary>
internal static partial class MonitorLog
{
    [LoggerMessage(EventId = 3000, EventName = "MonitorDriftDetected", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': feature '{Feature}' drifted over the last {Window}: {Metric} = {Value:0.####} > {Threshold:0.####} (n = {SampleSize})")]
    public static partial void DriftDetected(ILogger logger, string modelName, string feature, TimeSpan window, string metric, double value, double threshold, long sampleSize);

    [LoggerMessage(EventId = 3001, EventName = "MonitorDriftResolved", Level = LogLevel.Information,
        Message = "Model '{ModelName}': feature '{Feature}' is stable again over the last {Window}: {Metric} = {Value:0.####} < {Threshold:0.####}")]
    public static partial void DriftResolved(ILogger logger, string modelName, string feature, TimeSpan window, string metric, double value, double threshold);

    [LoggerMessage(EventId = 3002, EventName = "MonitorDatasetDriftDetected", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': dataset drift over the last {Window}: {Share:P0} of the input features drifted (rule: {Threshold:P0})")]
    public static partial void DatasetDriftDetected(ILogger logger, string modelName, TimeSpan window, double share, double threshold);

    [LoggerMessage(EventId = 3003, EventName = "MonitorDatasetDriftResolved", Level = LogLevel.Information,
        Message = "Model '{ModelName}': dataset drift resolved over the last {Window}: {Share:P0} of the input features drift")]
    public static partial void DatasetDriftResolved(ILogger logger, string modelName, TimeSpan window, double share);

    [LoggerMessage(EventId = 3004, EventName = "MonitorQualityViolation", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': data-quality rule '{Rule}' fails over the last {Window}: {Message}")]
    public static partial void QualityViolation(ILogger logger, string modelName, string rule, TimeSpan window, string message);

    [LoggerMessage(EventId = 3005, EventName = "MonitorQualityResolved", Level = LogLevel.Information,
        Message = "Model '{ModelName}': data-quality rule '{Rule}' holds again over the last {Window}: {Message}")]
    public static partial void QualityResolved(ILogger logger, string modelName, string rule, TimeSpan window, string message);

    [LoggerMessage(EventId = 3010, EventName = "MonitorHandlerFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': monitor handler {Handler} failed")]
    public static partial void HandlerFailed(ILogger logger, string modelName, string handler, Exception exception);

    [LoggerMessage(EventId = 3011, EventName = "MonitorHandlerTimedOut", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': monitor handler {Handler} did not finish within {Timeout}; abandoned")]
    public static partial void HandlerTimedOut(ILogger logger, string modelName, string handler, TimeSpan timeout);

    [LoggerMessage(EventId = 3020, EventName = "MonitorRecordingsDropped", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Dropped} prediction(s) were not profiled because the monitor's queue was full (they still count for volume)")]
    public static partial void RecordingsDropped(ILogger logger, string modelName, long dropped);

    [LoggerMessage(EventId = 3021, EventName = "MonitorConsumerFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': the monitor failed to profile a block of predictions; the block is skipped")]
    public static partial void ConsumerFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 3030, EventName = "MonitorReferenceLoaded", Level = LogLevel.Information,
        Message = "Model '{ModelName}': monitor reference loaded from {Path} ({Rows} rows, {Features} features, {Chunks} chunks)")]
    public static partial void ReferenceLoaded(ILogger logger, string modelName, string path, long rows, int features, int chunks);

    [LoggerMessage(EventId = 3031, EventName = "MonitorReferenceLoadFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': monitor reference {Path} could not be loaded; monitoring runs without a reference")]
    public static partial void ReferenceLoadFailed(ILogger logger, string modelName, string path, Exception exception);

    [LoggerMessage(EventId = 3040, EventName = "MonitorSnapshotRestored", Level = LogLevel.Information,
        Message = "Model '{ModelName}': monitor snapshot restored from {Path} ({Intervals} intervals, {Predictions} predictions)")]
    public static partial void SnapshotRestored(ILogger logger, string modelName, string path, int intervals, long predictions);

    [LoggerMessage(EventId = 3041, EventName = "MonitorSnapshotCorrupt", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': monitor snapshot {Path} could not be restored and was moved aside as {MovedTo}; the monitor starts with an empty history")]
    public static partial void SnapshotCorrupt(ILogger logger, string modelName, string path, string movedTo, Exception exception);

    [LoggerMessage(EventId = 3042, EventName = "MonitorSnapshotWriteFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': monitor snapshot {Path} could not be written")]
    public static partial void SnapshotWriteFailed(ILogger logger, string modelName, string path, Exception exception);

    [LoggerMessage(EventId = 3053, EventName = "MonitorWindowSpansModelVersions", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': the {Window} window spans several model versions ({Note}); drift is still evaluated and reported")]
    public static partial void WindowSpansModelVersions(ILogger logger, string modelName, TimeSpan window, string note);

    [LoggerMessage(EventId = 3060, EventName = "MonitorFeatures", Level = LogLevel.Information,
        Message = "Model '{ModelName}': monitoring {FeatureCount}{More} features from {Members} members: {Features}")]
    public static partial void MonitoredFeatures(ILogger logger, string modelName, int featureCount, string more, int members, string features);

    [LoggerMessage(EventId = 3034, EventName = "MonitorReferenceOfAnotherModel", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': the monitor reference was built for model '{ReferenceModel}'; its features are compared with this model's by name")]
    public static partial void ReferenceOfAnotherModel(ILogger logger, string modelName, string referenceModel);

    [LoggerMessage(EventId = 3036, EventName = "MonitorReferenceDoesNotFit", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': the monitor reference does not fit what the model records ({Problems}); the features it lacks, or has of another kind, are not judged for drift")]
    public static partial void ReferenceDoesNotFit(ILogger logger, string modelName, string problems);

    [LoggerMessage(EventId = 3035, EventName = "MonitorUnknownFeatureOptions", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Options} name features the monitor reference does not have, so they apply to nothing (a typo?); its features: {Features}")]
    public static partial void UnknownFeatureOptions(ILogger logger, string modelName, string options, string features);

    [LoggerMessage(EventId = 3037, EventName = "MonitorUnknownFeatureKeys", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Keys} name no feature of the model, so they apply to nothing (keys compare case-insensitively); its features: {Features}")]
    public static partial void UnknownFeatureKeys(ILogger logger, string modelName, string keys, string features);

    [LoggerMessage(EventId = 3032, EventName = "MonitorReferenceBuilt", Level = LogLevel.Information,
        Message = "Model '{ModelName}': monitor reference built from {Rows} training rows ({Skipped} skipped by input validation), {Chunks} calibration chunks, {Features} features")]
    public static partial void ReferenceBuilt(ILogger logger, string modelName, long rows, long skipped, int chunks, int features);

    [LoggerMessage(EventId = 3033, EventName = "MonitorReferenceRowsSkipped", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Skipped} of {Total} training rows failed input validation and were left out of the reference; the first: {Reason}")]
    public static partial void ReferenceRowsSkipped(ILogger logger, string modelName, long skipped, long total, string reason);

    [LoggerMessage(EventId = 3050, EventName = "MonitorEvaluationFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': monitor evaluation failed")]
    public static partial void EvaluationFailed(ILogger logger, string modelName, Exception exception);

    [LoggerMessage(EventId = 3051, EventName = "MonitorOutcomeRefused", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': an outcome was refused: its error (prediction - actual), squared error or the interval's error sums would not be finite")]
    public static partial void OutcomeRefused(ILogger logger, string modelName);

    [LoggerMessage(EventId = 3052, EventName = "MonitorPredictionIdsTooLong", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': {Count} prediction ids longer than {MaxLength} characters were not kept; their outcomes cannot be joined")]
    public static partial void PredictionIdsTooLong(ILogger logger, string modelName, int count, int maxLength);
}
