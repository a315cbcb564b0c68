namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Replacing the reference while an alarm is open (an outside probe): SetReference used to forget every open alarm, so an
/// alert stayed open forever when the new reference made the data normal (no DriftResolved ever came), and a feature
/// still drifting against the new reference raised a second DriftDetected for the same open alarm. The alarms now carry
/// over and are judged against the new reference with the usual hysteresis.
/// </summary>
public class ReferenceReplacementTests
{
    private const int PerMinute = 1_000;
    private const int WindowMinutes = 10;

    private static async Task<List<ModelMonitorEvent>> WindowAsync(MonitorHarness harness, SyntheticStream stream)
    {
        harness.Run(stream, WindowMinutes, PerMinute);
        return [.. await harness.Monitor.EvaluateAsync()];
    }

    /// <summary>A monitor whose X drifted (an open DriftDetected) and the stream that drifted.</summary>
    private static async Task<(MonitorHarness Harness, SyntheticStream Stream)> DriftedAsync()
    {
        var harness = new MonitorHarness();
        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(11), 100_000));
        var stream = new SyntheticStream(12);
        Assert.DoesNotContain(await WindowAsync(harness, stream), e => e.Kind == ModelMonitorEventKind.DriftDetected);
        stream.Shift = 1.0;
        Assert.Contains(await WindowAsync(harness, stream), e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "X");
        return (harness, stream);
    }

    [Fact]
    public async Task ANewReferenceThatMatchesTheData_ResolvesTheOpenAlarm()
    {
        var (harness, stream) = await DriftedAsync();
        using var _ = harness;
        var shifted = new SyntheticStream(13) { Shift = 1.0 };
        harness.Monitor.SetReference(harness.BuildReference(shifted, 100_000));

        var events = await WindowAsync(harness, stream);

        Assert.Contains(events, e => e.Kind == ModelMonitorEventKind.DriftResolved && e.Feature == "X");
        Assert.DoesNotContain(events, e => e.Kind == ModelMonitorEventKind.DriftDetected);
    }

    [Fact]
    public async Task ANewReferenceTheDataStillDriftsFrom_KeepsTheAlarmOpen_WithoutASecondDetected()
    {
        var (harness, stream) = await DriftedAsync();
        using var _ = harness;
        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(14), 100_000));

        var events = await WindowAsync(harness, stream);

        Assert.DoesNotContain(events, e => e.Feature == "X");
        Assert.Equal(FeatureStatus.Drifted, harness.Monitor.GetReport(TimeSpan.FromMinutes(WindowMinutes)).Features.Single(f => f.Name == "X").Status);
    }

    [Fact]
    public async Task RemovingTheReference_ResolvesTheOpenDriftAlarms_SayingTheFeatureIsNoLongerJudged()
    {
        var (harness, stream) = await DriftedAsync();
        using var _ = harness;
        harness.Monitor.SetReference(null);

        var events = await WindowAsync(harness, stream);

        var resolved = Assert.Single(events, e => e.Kind == ModelMonitorEventKind.DriftResolved && e.Feature == "X");
        Assert.Contains("no longer judged", resolved.Message, StringComparison.Ordinal);
        Assert.Empty(await WindowAsync(harness, stream)); // said once
    }

    [Fact]
    public async Task RemovingTheReferenceThatGaveTheExpectedRate_ClosesTheOpenVolumeViolation()
    {
        using var harness = new MonitorHarness(o => o.VolumeTolerance = 0.5);
        var stream = new SyntheticStream(21);
        harness.Run(stream, WindowMinutes, PerMinute);
        harness.Monitor.SetReference(harness.Monitor.FreezeReference(TimeSpan.FromMinutes(WindowMinutes))); // 1,000 a minute
        harness.Run(stream, WindowMinutes, PerMinute / 10);
        Assert.Contains(await harness.Monitor.EvaluateAsync(), e => e.Kind == ModelMonitorEventKind.QualityViolation && e.Rule == "volume");

        harness.Monitor.SetReference(null);
        harness.Run(stream, WindowMinutes, PerMinute / 10);
        var events = await harness.Monitor.EvaluateAsync();

        var resolved = Assert.Single(events, e => e.Rule == "volume");
        Assert.Equal(ModelMonitorEventKind.QualityResolved, resolved.Kind);
        Assert.Contains("no longer judged", resolved.Message, StringComparison.Ordinal);
    }
}
