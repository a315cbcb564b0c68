using Xunit.Abstractions;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// The scenario suite on fake time with deterministic seeds: 1,000 predictions a minute, 10-minute windows
/// (10k items each) evaluated back to back, a 100k-row reference in 10 chunks. Detection rates and false alarms are
/// written to the test output (dotnet test --logger "console;verbosity=detailed").
/// </summary>
public class ScenarioTests(ITestOutputHelper output)
{
    private const int PerMinute = 1_000;
    private const int WindowMinutes = 10;
    private const int ReferenceRows = 100_000;

    private static bool IsAlarm(ModelMonitorEvent e) =>
        e.Kind is ModelMonitorEventKind.DriftDetected or ModelMonitorEventKind.QualityViolation or ModelMonitorEventKind.DatasetDriftDetected;

    private static async Task<List<ModelMonitorEvent>> RunWindowAsync(MonitorHarness harness, SyntheticStream stream)
    {
        harness.Run(stream, WindowMinutes, PerMinute);
        return [.. await harness.Monitor.EvaluateAsync()];
    }

    private static MonitorHarness Start(int seed, Action<SyntheticStream>? shape = null, Action<MonitoringOptions>? configure = null)
    {
        var harness = new MonitorHarness(configure);
        var training = new SyntheticStream(seed * 7919);
        shape?.Invoke(training);
        harness.Monitor.SetReference(harness.BuildReference(training, ReferenceRows));
        return harness;
    }

    [Fact]
    public async Task StableStream_RaisesNoAlarm_Over100Windows()
    {
        using var harness = Start(1);
        var stream = new SyntheticStream(2);
        var alarms = new List<ModelMonitorEvent>();
        for (var w = 0; w < 100; w++)
        {
            alarms.AddRange((await RunWindowAsync(harness, stream)).Where(IsAlarm));
        }

        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(WindowMinutes));
        var judged = report.Features.Count(f => f.Status is FeatureStatus.Stable or FeatureStatus.Drifted);
        output.WriteLine($"stable: 100 windows x {judged} judged features = {100 * judged} checks (+ quality rules); false alarms: {alarms.Count}");
        foreach (var alarm in alarms)
        {
            output.WriteLine("  " + alarm.Message);
        }

        Assert.Equal(10_000, report.Predictions);
        Assert.True(judged >= 8, $"only {judged} features judged");
        Assert.Empty(alarms);
    }

    [Fact]
    public async Task MeanShiftOf02Sigma_At10kPerWindow_IsFlaggedWithinOneWindow()
    {
        const int Seeds = 10;
        var detected = 0;
        var falseAlarms = 0;
        for (var seed = 1; seed <= Seeds; seed++)
        {
            using var harness = Start(seed);
            var stream = new SyntheticStream(1000 + seed);
            falseAlarms += (await RunWindowAsync(harness, stream)).Count(IsAlarm);
            stream.Shift = 0.2;
            var events = await RunWindowAsync(harness, stream);
            if (events.Any(e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "X"))
            {
                detected++;
            }

            // Y and Color did not change: an alarm on them is false.
            falseAlarms += events.Count(e => IsAlarm(e) && e.Feature is "Y" or "Color");
        }

        output.WriteLine($"0.2-sigma mean shift, 10k/window: detected within one window in {detected}/{Seeds} runs; false alarms on unchanged features/windows: {falseAlarms}");
        Assert.Equal(Seeds, detected);
        Assert.Equal(0, falseAlarms);
    }

    [Fact]
    public async Task CategorySwapOf10Percent_IsFlagged()
    {
        const int Seeds = 10;
        var detected = 0;
        var falseAlarms = 0;
        for (var seed = 1; seed <= Seeds; seed++)
        {
            using var harness = Start(seed);
            var stream = new SyntheticStream(2000 + seed);
            falseAlarms += (await RunWindowAsync(harness, stream)).Count(IsAlarm);
            stream.Colors = (0.4, 0.4); // 10% of the traffic moves from red to green
            var events = await RunWindowAsync(harness, stream);
            if (events.Any(e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "Color"))
            {
                detected++;
            }

            falseAlarms += events.Count(e => IsAlarm(e) && e.Feature is "X" or "Y");
        }

        output.WriteLine($"10% category swap: detected within one window in {detected}/{Seeds} runs; false alarms: {falseAlarms}");
        Assert.Equal(Seeds, detected);
        Assert.Equal(0, falseAlarms);
    }

    [Fact]
    public async Task NaNBurst_RaisesAQualityViolation_ThatResolvesWhenItStops()
    {
        using var harness = Start(3);
        var stream = new SyntheticStream(3000);
        Assert.DoesNotContain(await RunWindowAsync(harness, stream), IsAlarm);

        harness.Run(stream, 4, PerMinute);
        stream.NaNShare = 0.2;
        harness.Run(stream, 1, PerMinute); // 200 NaN in a 10k window: 98% present < mostly 99%
        stream.NaNShare = 0;
        harness.Run(stream, 5, PerMinute);
        var during = await harness.Monitor.EvaluateAsync();
        var violation = Assert.Single(during, e => e.Kind == ModelMonitorEventKind.QualityViolation);
        Assert.Equal("missing", violation.Rule);
        Assert.Equal("X", violation.Feature);
        Assert.InRange(violation.Value, 0.97, 0.99);
        Assert.Contains(harness.Monitor.GetReport(TimeSpan.FromMinutes(10)).Violations, v => v.Rule == "missing" && v.Feature == "X");

        var after = await RunWindowAsync(harness, stream);
        var resolved = Assert.Single(after, e => e.Kind == ModelMonitorEventKind.QualityResolved);
        Assert.Equal("X", resolved.Feature);
        Assert.Empty(harness.Monitor.GetReport(TimeSpan.FromMinutes(10)).Violations);
        output.WriteLine($"NaN burst: violation raised ({violation.Message}); resolved one window after it stopped.");
    }

    [Fact]
    public async Task PeriodicDrift_InsideTheReferenceChunksVariation_DoesNotAlert()
    {
        // X swings by ±0.5 sigma over 30 minutes; reference chunks and windows see the same swing.
        static void Seasonal(SyntheticStream s) => s.Seasonality = (0.5, 30 * PerMinute);
        var calibratedAlarms = 0;
        var fixedAlarms = 0;
        foreach (var calibrate in new[] { true, false })
        {
            using var harness = Start(4, Seasonal, o => o.CalibrationSigmas = calibrate ? 3 : 0);
            var stream = new SyntheticStream(4000);
            Seasonal(stream);
            for (var w = 0; w < 30; w++)
            {
                var alarms = (await RunWindowAsync(harness, stream)).Count(e => IsAlarm(e) && e.Feature == "X");
                if (calibrate)
                {
                    calibratedAlarms += alarms;
                }
                else
                {
                    fixedAlarms += alarms;
                }
            }

            if (calibrate)
            {
                var x = harness.Monitor.GetReport(TimeSpan.FromMinutes(WindowMinutes))["X"]!;
                output.WriteLine($"periodic: X threshold calibrated to {x.CalibratedThreshold:0.###} (fixed {x.Threshold:0.###} effective), last distance {x.Distance.Value:0.###}");
            }
        }

        output.WriteLine($"periodic drift over 30 windows: alarms on X with calibration {calibratedAlarms}, with the fixed threshold only {fixedAlarms}");
        Assert.Equal(0, calibratedAlarms);
        Assert.True(fixedAlarms > 0, "the scenario should be strong enough to fool a fixed threshold");
    }
}
