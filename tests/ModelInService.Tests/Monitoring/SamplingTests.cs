using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>The sampling budget (<see cref="MonitoringOptions.MaxProfiledRowsPerSecond"/>): bounded profiling cost, exact volume.</summary>
public class SamplingTests
{
    [Fact]
    public async Task AboveTheBudget_RowsAreSampled_AndEveryPredictionStillCounts()
    {
        // 10 rows/s budget, 1-minute intervals: a burst of 10 (one second's budget) is profiled whole, then 10 per second.
        using var harness = new MonitorHarness(o => o.MaxProfiledRowsPerSecond = 10);
        var stream = new SyntheticStream(3);
        for (var second = 0; second < 60; second++)
        {
            for (var i = 0; i < 100; i++)
            {
                var (row, prediction) = stream.Next();
                harness.Recorder.Record(row, prediction);
            }

            harness.Time.Advance(TimeSpan.FromSeconds(1));
        }

        await harness.Monitor.FlushAsync();
        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(1));
        var profiled = report.Features.First(f => f.Name == "X").Count;

        // The first second spends the burst (one second's budget: 10 rows); each later second adds the budget's
        // 10 rows: 10 + 59 * 10 profiled, the rest counted.
        Assert.Equal(6000, report.Predictions);
        Assert.Equal(10 + (59 * 10), profiled);
        Assert.Equal(6000 - profiled, report.Unsampled);
        Assert.Equal(0, report.Dropped);
        Assert.Equal(6000 - profiled, harness.Monitor.Statistics.Unsampled);
        Assert.Equal(6000 / 1.0, report.PredictionsPerMinute, 1e-9);
    }

    [Fact]
    public async Task UnderSustainedLoad_TheProfiledRateConvergesToTheBudget()
    {
        using var harness = new MonitorHarness(o =>
        {
            o.MaxProfiledRowsPerSecond = 20;
            o.Windows.Clear();
            o.Windows.Add(TimeSpan.FromMinutes(1));
        });
        var stream = new SyntheticStream(4);

        // 10 minutes at 200 rows/s: about 20 rows/s are profiled, evenly in time.
        for (var tick = 0; tick < 10 * 60 * 10; tick++)
        {
            for (var i = 0; i < 20; i++)
            {
                var (row, prediction) = stream.Next();
                harness.Recorder.Record(row, prediction);
            }

            harness.Time.Advance(TimeSpan.FromMilliseconds(100));
        }

        await harness.Monitor.FlushAsync();
        var lastMinute = harness.Monitor.GetReport(TimeSpan.FromMinutes(1));
        var profiled = lastMinute.Features.First(f => f.Name == "X").Count;
        Assert.Equal(200 * 60, lastMinute.Predictions);
        Assert.InRange(profiled, (20 * 60) - 20, (20 * 60) + 20);
        Assert.Equal(lastMinute.Predictions - profiled, lastMinute.Unsampled);
    }

    [Fact]
    public async Task ZeroBudget_ProfilesEveryPrediction()
    {
        using var harness = new MonitorHarness(o => o.MaxProfiledRowsPerSecond = 0);
        var stream = new SyntheticStream(5);
        for (var i = 0; i < 5000; i++)
        {
            var (row, prediction) = stream.Next();
            harness.Recorder.Record(row, prediction);
        }

        await harness.Monitor.FlushAsync();
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(1));
        Assert.Equal(5000, report.Features.First(f => f.Name == "X").Count);
        Assert.Equal(0, report.Unsampled);
    }

    [Fact]
    public async Task RowsWithAPredictionId_AreAlwaysProfiled_SoTheirOutcomesJoin()
    {
        using var harness = new MonitorHarness(o =>
        {
            o.MaxProfiledRowsPerSecond = 1; // a burst of one row, then one per second
            o.PredictionIdMember = nameof(Row.Id);
        });
        var stream = new SyntheticStream(6);
        for (var i = 0; i < 500; i++)
        {
            var (row, prediction) = stream.Next();
            if (i % 2 == 1)
            {
                row.Id = null; // only even rows carry an id
            }

            harness.Recorder.Record(row, prediction);
        }

        await harness.Monitor.FlushAsync();
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(10));
        var profiled = report.Features.First(f => f.Name == "X").Count;

        // All 250 rows with an id, plus the id-less rows that fit the budget; none lost for volume.
        Assert.Equal(500, report.Predictions);
        Assert.InRange(profiled, 250, 250 + 2);
        Assert.Equal(500 - profiled, report.Unsampled);
        Assert.True(harness.Monitor.RecordOutcome("p498", 1));
    }

    [Fact]
    public async Task UnsampledCounts_SurviveSnapshotFileAndMerge()
    {
        using var a = new MonitorHarness(o => o.MaxProfiledRowsPerSecond = 1);
        var stream = new SyntheticStream(7);
        a.Run(stream, 2, 1000); // time jumps a minute at a time: one profiled row per minute (the burst), 999 counted
        var snapshot = a.Monitor.ExportSnapshot();
        Assert.Equal(2000, snapshot.Predictions);

        using var file = new MemoryStream();
        snapshot.WriteTo(file);
        file.Position = 0;
        var restored = MonitorSnapshot.ReadFrom(file);
        Assert.Equal(2000, restored.Predictions);

        using var b = new MonitorHarness(o => o.MaxProfiledRowsPerSecond = 1);
        b.Time.Advance(TimeSpan.FromMinutes(2));
        b.Monitor.MergeSnapshot(restored);
        var report = b.Monitor.GetReport(TimeSpan.FromMinutes(10));
        Assert.Equal(2000, report.Predictions);
        Assert.Equal(2000 - 2, report.Unsampled);
    }

    [Fact]
    public void NegativeBudget_IsRejectedAtStartUp()
    {
        var options = new MonitoringOptions { MaxProfiledRowsPerSecond = -1 };
        var result = new MonitoringOptionsValidator().Validate("m", options);
        Assert.True(result.Failed);
        Assert.Contains("MaxProfiledRowsPerSecond", result.FailureMessage, StringComparison.Ordinal);
    }
}

/// <summary>Reports of past windows (history charts) and the profiles a report carries.</summary>
public class ReportHistoryTests
{
    [Fact]
    public async Task PastWindows_ShowTheDistanceOverTime_AndReportsCarryTheProfiles()
    {
        using var harness = new MonitorHarness(o =>
        {
            o.Windows.Clear();
            o.Windows.Add(TimeSpan.FromMinutes(1));
        });
        var stream = new SyntheticStream(11);
        harness.Monitor.SetReference(harness.BuildReference(stream, 20_000));
        harness.Run(stream, 5, 2000);
        stream.Shift = 1.0;
        harness.Run(stream, 5, 2000);
        await harness.Monitor.FlushAsync();

        var calm = harness.Monitor.GetReport(TimeSpan.FromMinutes(1), MonitorHarness.Start.AddMinutes(3));
        var shifted = harness.Monitor.GetReport(TimeSpan.FromMinutes(1), MonitorHarness.Start.AddMinutes(8).AddSeconds(30));
        var now = harness.Monitor.GetReport(TimeSpan.FromMinutes(1));

        Assert.Equal(MonitorHarness.Start.AddMinutes(2), calm.Start);
        Assert.Equal(MonitorHarness.Start.AddMinutes(8), shifted.End);
        Assert.True(calm["X"]!.Distance.Value < 0.05, $"calm distance {calm["X"]!.Distance.Value}");
        Assert.True(shifted["X"]!.Distance.Value > 0.3, $"shifted distance {shifted["X"]!.Distance.Value}");
        Assert.Equal(now["X"]!.Distance.Value, harness.Monitor.GetReport(TimeSpan.FromMinutes(1), MonitorHarness.Start.AddHours(1))["X"]!.Distance.Value);

        // The window's profile (a copy) and the reference's, for drawing the two distributions.
        var x = shifted["X"]!;
        Assert.Equal(2000, x.Profile!.TotalCount);
        Assert.Equal(20_000, x.ReferenceProfile!.TotalCount);
        Assert.True(x.Profile.Moments!.Mean > x.ReferenceProfile.Moments!.Mean + 0.8);

        // Before the retention: refused.
        Assert.Throws<ArgumentOutOfRangeException>(() => harness.Monitor.GetReport(TimeSpan.FromMinutes(5), MonitorHarness.Start.AddMinutes(-30)));
    }
}

/// <summary>Very long vectors are recorded as a fixed strided subsample.</summary>
public class LongVectorTests
{
    public sealed class Image
    {
        public float[] Pixels { get; set; } = [];
    }

    public sealed class Score
    {
        public float Value { get; set; }
    }

    [Fact]
    public async Task VectorsLongerThan4096_AreSummarizedFromEvenlyStridedElements()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(MonitorHarness.Start);
        var options = new MonitoringOptions();
        var recorder = PredictionRecorder<Image, Score>.Create(options, time);
        using var monitor = new ModelMonitor("image", options, recorder, recorder, time, () => [], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new MonitorMetrics(null, "image"));

        // 224 x 224 = 50,176 pixels: pixel i has value i; the recorded elements are i * 50,176 / 4,096.
        var pixels = new float[224 * 224];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = i;
        }

        recorder.Record(new Image { Pixels = pixels }, new Score { Value = 1 });
        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var report = monitor.GetReport(TimeSpan.FromMinutes(1));

        var expected = Enumerable.Range(0, NumberVectors.MaxRecordedElements).Average(i => (double)((long)i * pixels.Length / NumberVectors.MaxRecordedElements));
        Assert.Equal(expected, report["Pixels.mean"]!.Mean, 6);
        Assert.Equal(1, report["Pixels.norm"]!.Count);
    }
}
