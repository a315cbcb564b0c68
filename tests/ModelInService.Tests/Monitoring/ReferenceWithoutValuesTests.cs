namespace ModelInService.Tests.Monitoring;

/// <summary>
/// A reference that has a profile of a feature but no value of it to compare with (every training value of X was
/// missing or not finite, e.g. a column that was always empty in training): its distances are NaN. The monitor reported
/// such a feature <c>Stable</c> with a NaN distance (counted as judged in the dataset rule), and an alarm opened against
/// an earlier reference could never close, since a NaN distance is never below the exit threshold (an outside probe).
/// </summary>
public class ReferenceWithoutValuesTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private static MonitorReference Reference(MonitorHarness harness, Func<Random, double> x, int seed) =>
        MonitorHarness.BuildReference(harness.Options, harness.Recorder, new ProbeStreams.Source(seed) { X = x }.Next, 20_000, "synthetic", MonitorHarness.Start);

    private static MonitorHarness Start() => new(o =>
    {
        o.Windows.Clear();
        o.Windows.Add(Window);
        o.ReferenceChunkSize = 1_000;
    });

    [Fact]
    public async Task AFeatureWithoutReferenceValues_IsNotJudged_NotReportedStable()
    {
        using var harness = Start();
        harness.Monitor.SetReference(Reference(harness, _ => double.NaN, 1));

        var events = await ProbeStreams.WindowAsync(harness, new ProbeStreams.Source(2), 1_000);

        var report = harness.Monitor.GetReport(Window);
        var x = report.Features.Single(f => f.Name == "X");
        Assert.Equal(FeatureStatus.NoReference, x.Status);
        Assert.DoesNotContain(events, e => e.Feature == "X" && e.Kind == ModelMonitorEventKind.DriftDetected);

        // Y is judged, X is not: the dataset rule counts the judged inputs only.
        var judged = report.Features.Count(f => f.Role == FeatureRole.Input && f.Status is FeatureStatus.Stable or FeatureStatus.Drifted);
        Assert.Equal(2, judged); // Y and Color
    }

    [Fact]
    public async Task AnOpenAlarm_IsClosed_WhenTheNewReferenceHasNoValuesOfTheFeature()
    {
        using var harness = Start();
        harness.Monitor.SetReference(Reference(harness, ProbeStreams.Normal, 1));
        var shifted = new ProbeStreams.Source(2) { X = r => ProbeStreams.Normal(r) + 1 };
        Assert.Contains(await ProbeStreams.WindowAsync(harness, shifted, 1_000), e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "X");

        harness.Monitor.SetReference(Reference(harness, _ => double.NaN, 3));
        var events = await ProbeStreams.WindowAsync(harness, shifted, 1_000);

        var resolved = Assert.Single(events, e => e.Feature == "X" && e.Kind == ModelMonitorEventKind.DriftResolved);
        Assert.Contains("no longer judged", resolved.Message, StringComparison.Ordinal);
        Assert.Empty(await ProbeStreams.WindowAsync(harness, shifted, 1_000) is var later ? later.Where(e => e.Feature == "X") : []);
    }

    [Fact]
    public async Task AnOpenRangeViolation_IsClosed_WhenTheReferenceThatGaveTheRangeIsRemoved()
    {
        using var harness = Start();
        harness.Monitor.SetReference(Reference(harness, ProbeStreams.Normal, 1));
        var outside = new ProbeStreams.Source(2) { X = r => ProbeStreams.Normal(r) + 100 };
        Assert.Contains(await ProbeStreams.WindowAsync(harness, outside, 1_000), e => e.Kind == ModelMonitorEventKind.QualityViolation && e.Rule == "range" && e.Feature == "X");

        harness.Monitor.SetReference(null);
        var events = await ProbeStreams.WindowAsync(harness, outside, 1_000);

        var resolved = Assert.Single(events, e => e.Rule == "range" && e.Feature == "X");
        Assert.Equal(ModelMonitorEventKind.QualityResolved, resolved.Kind);
        Assert.Contains("no longer judged", resolved.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(harness.Monitor.GetReport(Window).Violations, v => v.Rule == "range");
        Assert.DoesNotContain(await ProbeStreams.WindowAsync(harness, outside, 1_000), e => e.Rule == "range");
    }

    [Fact]
    public async Task AnOpenRangeViolation_IsClosed_WhenTheNewReferenceHasNoValuesOfTheFeature()
    {
        using var harness = Start();
        harness.Monitor.SetReference(Reference(harness, ProbeStreams.Normal, 1));
        var outside = new ProbeStreams.Source(2) { X = r => ProbeStreams.Normal(r) + 100 };
        Assert.Contains(await ProbeStreams.WindowAsync(harness, outside, 1_000), e => e.Kind == ModelMonitorEventKind.QualityViolation && e.Rule == "range" && e.Feature == "X");

        harness.Monitor.SetReference(Reference(harness, _ => double.NaN, 3));
        var events = await ProbeStreams.WindowAsync(harness, outside, 1_000);

        Assert.Equal(ModelMonitorEventKind.QualityResolved, Assert.Single(events, e => e.Rule == "range" && e.Feature == "X").Kind);
    }
}
