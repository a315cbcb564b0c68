using Microsoft.Extensions.Logging;

namespace ModelInService.Monitoring;

/// <summary>Log messages of snapshot merges and restores (event ids 3043-3049; a failed restore is 3041).</summary>
internal static partial class MonitorLog
{
    [LoggerMessage(EventId = 3043, EventName = "MonitorSnapshotPartlyMerged", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': a snapshot was merged in part: {Ahead} intervals more than {Skew} ahead of this clock and {TooOld} intervals older than the retention were skipped ({Predictions} predictions), and {Features} unknown features were skipped (MonitoringOptions.MaxImportedFeatures)")]
    public static partial void SnapshotPartlyMerged(ILogger logger, string modelName, int ahead, TimeSpan skew, int tooOld, long predictions, int features);
}
