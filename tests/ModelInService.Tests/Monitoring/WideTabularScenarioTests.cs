using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;
using Xunit.Abstractions;

namespace ModelInService.Tests.Monitoring;

/// <summary>A 100-feature tabular input, as a Keras or sklearn model takes it: one <c>float[100]</c>.</summary>
public sealed class WideRow
{
    public float[] Features { get; set; } = [];
}

/// <summary>A regression output.</summary>
public sealed class WideScore
{
    public float Score { get; set; }
}

/// <summary>
/// Issue 13, defect 6: a 100-feature <c>float[100]</c> input is profiled feature by feature by default, so a 0.2σ
/// shift on one feature is found (before: norm/mean/4 projections, 0 of 3 detected), with no false alarm on stable
/// windows. Fake time, seeded data.
/// </summary>
public class WideTabularScenarioTests(ITestOutputHelper output)
{
    private const int Width = 100;
    private const int PerMinute = 1_000;
    private const int WindowMinutes = 10;

    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ShiftOf02SigmaOnOneOf100Features_IsDetected_WithNoFalseAlarmOnStableWindows(int seed)
    {
        var options = new MonitoringOptions { Retention = TimeSpan.FromMinutes(30), MaxProfiledRowsPerSecond = 0, ReferenceChunkSize = 10_000 };
        options.Windows.Clear();
        options.Windows.Add(TimeSpan.FromMinutes(WindowMinutes));
        var time = new FakeTimeProvider(Start);
        var recorder = PredictionRecorder<WideRow, WideScore>.Create(options, time);
        using var monitor = new ModelMonitor("wide", options, recorder, recorder, time, () => [], NullLogger.Instance, new MonitorMetrics(null, "wide"));
        var random = new Random(seed);
        monitor.SetReference(BuildReference(options, recorder, random, 100_000));

        var shifted = 37 + seed;
        var shift = 0.0;
        var stableAlarms = 0;
        for (var w = 0; w < 10; w++)
        {
            stableAlarms += (await RunWindowAsync()).Count(IsAlarm);
        }

        var report = monitor.GetReport(TimeSpan.FromMinutes(WindowMinutes));
        var judged = report.Features.Count(f => f.Role == FeatureRole.Input && f.Status is FeatureStatus.Stable or FeatureStatus.Drifted);
        shift = 0.2;
        var events = await RunWindowAsync();
        var detected = events.Any(e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == $"Features[{shifted}]");
        var others = events.Count(e => IsAlarm(e) && e.Feature != $"Features[{shifted}]");
        output.WriteLine($"seed {seed}: {judged} input features judged; stable: 10 windows x {judged} = {10 * judged} checks, {stableAlarms} false alarms; 0.2 sigma on Features[{shifted}]: detected = {detected}, other alarms = {others}");

        Assert.Equal(Width, judged);
        Assert.Equal(0, stableAlarms);
        Assert.True(detected);
        Assert.Equal(0, others);

        async Task<List<ModelMonitorEvent>> RunWindowAsync()
        {
            for (var m = 0; m < WindowMinutes; m++)
            {
                for (var i = 0; i < PerMinute; i++)
                {
                    var row = Row(random, shifted, shift);
                    recorder.Record(row, new WideScore { Score = row.Features[0] });
                }

                await monitor.FlushAsync();
                time.Advance(TimeSpan.FromMinutes(1));
            }

            return [.. await monitor.EvaluateAsync()];
        }
    }

    /// <summary>
    /// The consumer-side cost of per-feature profiling of a float[100], against the old summaries (MaxTabularFeatures
    /// 16): decode time per row, printed (not asserted: the machine's load decides it), and the feature counts.
    /// </summary>
    [Fact]
    public void PerFeatureProfiling_Cost_IsPrinted()
    {
        var rows = Enumerable.Range(0, 4_000).Select(i => Row(new Random(i), -1, 0)).ToArray();
        var perFeature = Measure(256);
        var summaries = Measure(16);
        output.WriteLine($"decode of float[100] rows on the consumer: per feature {perFeature.Micros:0.00} us/row ({perFeature.Features} features), summaries {summaries.Micros:0.00} us/row ({summaries.Features} features), ratio {perFeature.Micros / summaries.Micros:0.0}");
        Assert.Equal(Width + 1, perFeature.Features);
        Assert.Equal(2 + 4 + 1, summaries.Features);

        (double Micros, int Features) Measure(int maxTabular)
        {
            var options = new MonitoringOptions { MaxTabularFeatures = maxTabular };
            var recorder = PredictionRecorder<WideRow, WideScore>.Create(options, new FakeTimeProvider(Start));
            var catalog = new FeatureCatalog();
            var decoder = new RowDecoder(recorder.Schema, catalog, options);
            var block = new RecordBlock(RecorderBase.BlockNumbers, 1024);
            var factory = new ProfileFactory(options.SketchK, options.Seed);
            var best = double.MaxValue;
            for (var round = 0; round < 5; round++)
            {
                var interval = new IntervalProfile(0);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                for (var start = 0; start < rows.Length; start += RecordBlock.MaxRows)
                {
                    block.Reset(0);
                    for (var i = start; i < Math.Min(rows.Length, start + RecordBlock.MaxRows); i++)
                    {
                        recorder.EncodeInto(block, rows[i], new WideScore { Score = 1 });
                    }

                    decoder.Apply(block, interval, factory, null);
                }

                best = Math.Min(best, watch.Elapsed.TotalMicroseconds / rows.Length);
            }

            return (best, catalog.Count);
        }
    }

    private static bool IsAlarm(ModelMonitorEvent e) =>
        e.Kind is ModelMonitorEventKind.DriftDetected or ModelMonitorEventKind.QualityViolation or ModelMonitorEventKind.DatasetDriftDetected;

    /// <summary>Feature j ~ N(j / 10, 1 + j / 100), independent; <paramref name="shift"/> sigmas added to one feature.</summary>
    private static WideRow Row(Random random, int shifted, double shift)
    {
        var features = new float[Width];
        for (var j = 0; j < Width; j++)
        {
            var sigma = 1 + (j / 100.0);
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            features[j] = (float)((j / 10.0) + (sigma * (z + (j == shifted ? shift : 0))));
        }

        return new WideRow { Features = features };
    }

    private static MonitorReference BuildReference(MonitoringOptions options, PredictionRecorder<WideRow, WideScore> recorder, Random random, int rows) =>
        MonitorHarness.BuildReference(options, recorder, () =>
        {
            var row = Row(random, -1, 0);
            return (row, new WideScore { Score = row.Features[0] });
        }, rows, "wide", Start);
}
