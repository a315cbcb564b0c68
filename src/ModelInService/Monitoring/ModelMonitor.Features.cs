namespace ModelInService.Monitoring;

/// <summary>What the monitor profiles, for the start-up log and the reports.</summary>
internal sealed partial class ModelMonitor
{
    /// <summary>How each member of the input and output types is profiled, and why.</summary>
    public IReadOnlyList<MonitoredMember> MonitoredMembers
    {
        get
        {
            lock (_state)
            {
                return _decoder.Describe();
            }
        }
    }

    /// <summary>Logs the monitored features once at start-up (after the models are loaded, so tensor shapes are known).</summary>
    public void LogMonitoredMembers()
    {
        var members = MonitoredMembers;
        var features = 0;
        var unknown = 0;
        foreach (var member in members)
        {
            if (member.FeatureCount < 0)
            {
                unknown++;
            }
            else
            {
                features += member.FeatureCount;
            }
        }

        MonitorLog.MonitoredFeatures(_logger, ModelName, features, unknown > 0 ? "+" : "", members.Count, string.Join("; ", members.Select(m => m.Description)));
    }

    private void LogReferenceBuilt(MonitorReference reference)
    {
        if (reference.SkippedRows > 0)
        {
            MonitorLog.ReferenceRowsSkipped(_logger, ModelName, reference.SkippedRows, reference.SkippedRows + reference.Rows, reference.SkippedReason ?? "");
        }

        MonitorLog.ReferenceBuilt(_logger, ModelName, reference.Rows, reference.SkippedRows, reference.ChunkCount, reference.FeatureNames.Count);
    }
}
