using Xunit.Abstractions;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Outside probe of the monitor's decisions: known distributions fed through the recorder on fake time, alarms
/// counted per rule, and the documented promises (false alarms, detection, hysteresis, quality rules) checked.
/// </summary>
public class OutsideProbeMonitorTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private static bool IsAlarm(ModelMonitorEvent e) =>
        e.Kind is ModelMonitorEventKind.DriftDetected or ModelMonitorEventKind.QualityViolation or ModelMonitorEventKind.DatasetDriftDetected;

    [Theory]
    [InlineData("normal", 1_000)]
    [InlineData("cauchy", 1_000)]
    [InlineData("lognormal", 1_000)]
    [InlineData("zeros90", 1_000)]
    [InlineData("huge", 1_000)]
    [InlineData("signedzero", 1_000)]
    [InlineData("const5", 1_000)]
    [InlineData("normal", 10_000)]
    [InlineData("cauchy", 10_000)]
    public async Task SameDistribution_200Windows_FalseAlarms(string shape, int chunk)
    {
        using var harness = ProbeStreams.Start(new ProbeStreams.Source(1) { X = ProbeStreams.Shape(shape) }, 20_000, chunk);
        var source = new ProbeStreams.Source(2) { X = ProbeStreams.Shape(shape) };
        var alarms = new List<ModelMonitorEvent>();
        var max = new Dictionary<string, double>();
        for (var w = 0; w < 200; w++)
        {
            alarms.AddRange((await ProbeStreams.WindowAsync(harness, source, 1_000)).Where(IsAlarm));
            foreach (var f in harness.Monitor.GetReport(Window).Features)
            {
                max[f.Name] = Math.Max(max.GetValueOrDefault(f.Name), double.IsNaN(f.Distance.Value) ? 0 : f.Distance.Value);
            }
        }

        var report = harness.Monitor.GetReport(Window);
        output.WriteLine($"{shape}, chunk {chunk}: {alarms.Count} alarms over 200 windows of 1,000 rows");
        foreach (var f in report.Features)
        {
            output.WriteLine($"  {f.Name}: {f.Status} d={f.Distance.Value:G4} (max {max[f.Name]:G4}) thr={f.Threshold:G4} cal={f.CalibratedThreshold:G4}");
        }

        foreach (var g in alarms.GroupBy(a => (a.Rule, a.Feature)))
        {
            output.WriteLine($"  {g.Count()} x {g.Key.Rule}/{g.Key.Feature}: {g.First().Message}");
        }

        // Not a promise of the docs (their 0 false alarms are for 10,000-row windows): measured, 8 features x 200 windows.
        Assert.True(alarms.Count <= 24, $"{alarms.Count} false alarms in 200 windows");
    }
}

public class OutsideProbeExactTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ReportedDistance_MatchesExact_PerWindow()
    {
        var window = TimeSpan.FromMinutes(1);
        var training = new ProbeStreams.Source(1);
        var refX = new List<double>();
        var refY = new List<double>();
        Func<(Row, Prediction)> next = () =>
        {
            var (r, p) = training.Next();
            refX.Add(r.X);
            refY.Add(r.Y);
            return (r, p);
        };
        using var harness = new MonitorHarness(o =>
        {
            o.Windows.Clear();
            o.Windows.Add(window);
            o.ReferenceChunkSize = 1_000;
        });
        harness.Monitor.SetReference(MonitorHarness.BuildReference(harness.Options, harness.Recorder, next, 20_000, "synthetic", MonitorHarness.Start));
        var source = new ProbeStreams.Source(2);
        for (var w = 0; w < 30; w++)
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (var i = 0; i < 1_000; i++)
            {
                var (row, prediction) = source.Next();
                xs.Add(row.X);
                ys.Add(row.Y);
                harness.Recorder.Record(row, prediction);
            }

            await harness.Monitor.FlushAsync();
            harness.Time.Advance(window);
            await harness.Monitor.EvaluateAsync();
            var report = harness.Monitor.GetReport(window);
            foreach (var (name, r, m) in new[] { ("X", refX, xs), ("Y", refY, ys) })
            {
                var f = report.Features.Single(f => f.Name == name);
                var (ks, w1) = ProbeStreams.ExactKsW1([.. r], [.. m]);
                var mean = r.Average();
                var sigma = Math.Sqrt(r.Sum(x => (x - mean) * (x - mean)) / r.Count);
                Assert.InRange(w1 / sigma, f.Distance.LowerBound - 1e-9, f.Distance.UpperBound + 1e-9);
                Assert.InRange(ks, ((Sketches.NumericDrift)f.Drift!).KolmogorovSmirnov.LowerBound - 1e-9, ((Sketches.NumericDrift)f.Drift!).KolmogorovSmirnov.UpperBound + 1e-9);
                output.WriteLine($"w{w} {name}: n={f.Count} reported NW1 {f.Distance.Value:F4} [{f.Distance.LowerBound:F4}, {f.Distance.UpperBound:F4}] exact {w1 / sigma:F4}; KS {((Sketches.NumericDrift)f.Drift!).KolmogorovSmirnov.Value:F4} exact {ks:F4}; mean {f.Mean:F3} vs {m.Average():F3}");
            }
        }
    }
}

public class OutsideProbeDecisionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private static string Describe(ModelMonitorEvent e) => $"{e.Kind} {e.Rule}/{e.Feature} v={e.Value:G4} thr={e.Threshold:G4}";

    private async Task<List<ModelMonitorEvent>> PhaseAsync(MonitorHarness h, ProbeStreams.Source s, int windows, int rows, string label)
    {
        var all = new List<ModelMonitorEvent>();
        for (var w = 0; w < windows; w++)
        {
            var events = await ProbeStreams.WindowAsync(h, s, rows);
            var x = h.Monitor.GetReport(Window).Features.Single(f => f.Name == "X");
            output.WriteLine($"{label} w{w}: X {x.Status} d={x.Distance.Value:G4} thr={x.Threshold:G4} exit={x.ExitThreshold:G4}; events: {string.Join("; ", events.Select(Describe))}");
            all.AddRange(events);
        }

        return all;
    }

    [Fact]
    public async Task ConstantFeature_SameConstant_NoEvents_OtherConstant_OneAlarmEach_ThenResolves()
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1) { X = _ => 5 }, 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { X = _ => 5 };
        var same = await PhaseAsync(h, s, 3, 1_000, "same");
        Assert.DoesNotContain(same, e => e.Feature == "X");
        s.X = _ => 7;
        var other = await PhaseAsync(h, s, 5, 1_000, "other");
        Assert.Single(other, e => e.Feature == "X" && e.Kind == ModelMonitorEventKind.DriftDetected);
        Assert.Single(other, e => e.Feature == "X" && e.Rule == "range" && e.Kind == ModelMonitorEventKind.QualityViolation);
        Assert.DoesNotContain(other, e => e.Feature == "X" && e.Kind is ModelMonitorEventKind.DriftResolved or ModelMonitorEventKind.QualityResolved);
        s.X = _ => 5;
        var back = await PhaseAsync(h, s, 3, 1_000, "back");
        Assert.Single(back, e => e.Feature == "X" && e.Kind == ModelMonitorEventKind.DriftResolved);
        Assert.Single(back, e => e.Feature == "X" && e.Rule == "range" && e.Kind == ModelMonitorEventKind.QualityResolved);
    }

    [Fact]
    public async Task AllNaNWindows_OneMissingViolation_NoDriftStorm_ResolvesAfter()
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1), 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { X = _ => double.NaN };
        var nan = await PhaseAsync(h, s, 4, 1_000, "nan");
        Assert.Single(nan, e => e.Feature == "X" && e.Rule == "missing" && e.Kind == ModelMonitorEventKind.QualityViolation);
        Assert.DoesNotContain(nan, e => e.Feature == "X" && e.Rule != "missing");
        Assert.Equal(FeatureStatus.InsufficientData, h.Monitor.GetReport(Window).Features.Single(f => f.Name == "X").Status);
        s.X = _ => double.PositiveInfinity;
        var inf = await PhaseAsync(h, s, 2, 1_000, "inf");
        Assert.DoesNotContain(inf, e => e.Feature == "X");
        s.X = ProbeStreams.Normal;
        var back = await PhaseAsync(h, s, 3, 1_000, "back");
        Assert.Single(back, e => e.Feature == "X" && e.Rule == "missing" && e.Kind == ModelMonitorEventKind.QualityResolved);
    }

    [Fact]
    public async Task TinyWindows_NoEvents_InsufficientData()
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1), 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { X = r => ProbeStreams.Normal(r) + 10 };
        var all = new List<ModelMonitorEvent>();
        for (var n = 1; n <= 5; n++)
        {
            all.AddRange(await PhaseAsync(h, s, 1, n, $"n={n}"));
            Assert.All(h.Monitor.GetReport(Window).Features, f => Assert.Equal(FeatureStatus.InsufficientData, f.Status));
        }

        Assert.Empty(all);
    }

    [Fact]
    public async Task UnseenCategory_FlaggedOnce_ResolvesWhenGone()
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1), 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { Purple = 0.1 };
        var purple = await PhaseAsync(h, s, 4, 1_000, "purple");
        var r = h.Monitor.GetReport(Window).Features.Single(f => f.Name == "Color");
        var drift = (Sketches.CategoricalDrift)r.Drift!;
        output.WriteLine($"Color LInf {drift.LInfinity.Value} unseen {drift.UnseenFraction} PSI {drift.PopulationStabilityIndex.Value}");
        foreach (var e in purple.Where(e => e.Feature == "Color"))
        {
            output.WriteLine(e.Message);
        }

        Assert.Single(purple, e => e.Feature == "Color" && e.Rule == "unseen" && e.Kind == ModelMonitorEventKind.QualityViolation);
        Assert.Single(purple, e => e.Feature == "Color" && e.Kind == ModelMonitorEventKind.DriftDetected);
        s.Purple = 0;
        var back = await PhaseAsync(h, s, 3, 1_000, "back");
        Assert.Single(back, e => e.Feature == "Color" && e.Rule == "unseen" && e.Kind == ModelMonitorEventKind.QualityResolved);
        Assert.Single(back, e => e.Feature == "Color" && e.Kind == ModelMonitorEventKind.DriftResolved);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.09)]
    [InlineData(0.11)]
    public async Task HoveringAtTheThreshold_EventsFollowTheHysteresis(double shift)
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1), 100_000, 10_000, o => o.CalibrationSigmas = 0);
        var s = new ProbeStreams.Source(2) { X = r => ProbeStreams.Normal(r) + shift };
        var events = (await PhaseAsync(h, s, 60, 10_000, "hover")).Where(e => e.Feature == "X").ToList();
        output.WriteLine($"shift {shift}: {events.Count} X events over 60 windows");
        foreach (var e in events)
        {
            Assert.True(e.Kind == ModelMonitorEventKind.DriftDetected ? e.Value > 0.1 : e.Value < 0.08, Describe(e));
        }

        // No count is promised: at 10,000 rows the distance's noise (sampling plus sketch) is about the width of the
        // 0.08-0.1 band, so a feature hovering at the threshold alternates every few windows (see the report).
    }

    [Theory]
    [InlineData(0.005, false)]
    [InlineData(0.008, false)]
    [InlineData(0.015, true)]
    [InlineData(0.03, true)]
    public async Task RangeRule_ShareOutside_MatchesExact(double outside, bool shouldFail)
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1) { X = r => r.NextDouble() }, 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { X = r => r.NextDouble() < outside ? 5 + r.NextDouble() : r.NextDouble() };
        var events = await PhaseAsync(h, s, 5, 10_000, $"outside {outside}");
        var v = h.Monitor.GetReport(Window).Violations.FirstOrDefault(v => v.Rule == "range");
        output.WriteLine($"outside {outside}: violation {v?.Message}");
        Assert.Equal(shouldFail, v is not null);
        Assert.True(events.Count(e => e.Rule == "range") <= 1);
    }

    [Theory]
    [InlineData("missing", 0.072)]
    [InlineData("range", 0.01)]
    public async Task QualityRule_HoveringAtItsBound_FollowsItsHysteresis(string rule, double share)
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1) { X = r => r.NextDouble() < 0.05 ? double.NaN : r.NextDouble() }, 20_000, 1_000);
        var s = new ProbeStreams.Source(2)
        {
            X = rule == "missing"
                ? r => r.NextDouble() < share ? double.NaN : r.NextDouble()
                : r => r.NextDouble() < 0.05 ? double.NaN : r.NextDouble() < share ? 5 : r.NextDouble(),
        };
        var events = (await PhaseAsync(h, s, 60, rule == "missing" ? 1_000 : 10_000, rule)).Where(e => e.Rule == rule && e.Feature == "X").ToList();
        output.WriteLine($"{rule} hovering at {share}: {events.Count} events over 60 windows");
        Assert.Equal(ModelMonitorEventKind.QualityViolation, events.FirstOrDefault()?.Kind ?? ModelMonitorEventKind.QualityViolation);
        for (var i = 1; i < events.Count; i++)
        {
            Assert.NotEqual(events[i - 1].Kind, events[i].Kind);
        }
    }

    [Theory]
    [InlineData(MonitorDriftMetric.KolmogorovSmirnov)]
    [InlineData(MonitorDriftMetric.PopulationStabilityIndex)]
    [InlineData(MonitorDriftMetric.JensenShannonDistance)]
    [InlineData(MonitorDriftMetric.Hellinger)]
    public async Task OtherMetrics_SameDistribution_FalseAlarms_AndAHalfSigmaShiftIsFlaggedInTheFirstWindow(MonitorDriftMetric metric)
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1), 20_000, 1_000, o => o.NumericMetric = metric);
        var s = new ProbeStreams.Source(2);
        var alarms = 0;
        for (var w = 0; w < 200; w++)
        {
            alarms += (await ProbeStreams.WindowAsync(h, s, 1_000)).Count(e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature is "X" or "Y");
        }

        s.X = r => ProbeStreams.Normal(r) + 0.5;
        var shifted = await ProbeStreams.WindowAsync(h, s, 1_000);
        var x = h.Monitor.GetReport(Window).Features.Single(f => f.Name == "X");
        output.WriteLine($"{metric}: {alarms} drift alarms on X, Y over 200 windows of 1,000 rows; 0.5 sigma shift: {x.Status} d={x.Distance.Value:G4} thr={x.Threshold:G4}");
        Assert.Contains(shifted, e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "X");
        Assert.True(alarms <= 8, $"{alarms}");
    }

    [Theory]
    [InlineData(100)]
    [InlineData(1_000)]
    public async Task HighCardinalityCategorical_SameDistribution(int categories)
    {
        using var h = ProbeStreams.Start(new ProbeStreams.Source(1) { Categories = categories }, 20_000, 1_000);
        var s = new ProbeStreams.Source(2) { Categories = categories };
        var events = new List<ModelMonitorEvent>();
        for (var w = 0; w < 20; w++)
        {
            events.AddRange((await ProbeStreams.WindowAsync(h, s, 1_000)).Where(e => e.Feature == "Color"));
        }

        var c = h.Monitor.GetReport(Window).Features.Single(f => f.Name == "Color");
        output.WriteLine($"{categories} categories: Color {c.Status} d={c.Distance.Value:G4} thr={c.Threshold:G4} cal={c.CalibratedThreshold:G4}; events: {string.Join("; ", events.Select(e => $"{e.Kind} {e.Rule} {e.Value:G4}"))}");

        // A stable stream: no unseen-categories violation. With 1,000 categories the reference's sketch keeps only the
        // most frequent ones, and the rule held a violation open for good (82.7% "known") before; it is not judged then.
        Assert.DoesNotContain(events, e => e.Rule == "unseen");
        Assert.DoesNotContain(h.Monitor.GetReport(Window).Violations, v => v.Rule == "unseen");
    }
}
