using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;
using ModelInService.Sketches;

namespace ModelInService.Tests.Monitoring;

public class RecordingTests
{
    [ModelSchema]
    public sealed class VectorInput
    {
        public float[] Small { get; set; } = [];

        public double[] Large { get; set; } = [];

        public int Code { get; set; }

        public bool Flag { get; set; }
    }

    [ModelSchema]
    public sealed class ZipMapOutput
    {
        public string? Label { get; set; }

        public IReadOnlyDictionary<long, float> Scores { get; set; } = new Dictionary<long, float>();

        public float Value { get; set; }
    }

    [Fact]
    public void FullQueue_DropsWholeBlocks_CountsThem_AndNeverBlocks()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        var options = new MonitoringOptions { QueueCapacity = 512 }; // 2 blocks of 256 rows
        var recorder = PredictionRecorder<Row, Prediction>.Create(options, time); // no consumer: nothing drains
        var stream = new SyntheticStream(1);
        for (var i = 0; i < 10 * RecordBlock.MaxRows; i++)
        {
            var (row, prediction) = stream.Next();
            recorder.Record(row, prediction);
        }

        Assert.Equal(2, recorder.Reader.Count);
        var drops = recorder.TakeDrops()!;
        var (interval, counts) = Assert.Single(drops);
        Assert.Equal(MonitorHarness.Start.UtcTicks / TimeSpan.TicksPerMinute, interval);
        // Ten blocks' worth: two queued, the last one filled and dropped too, none pending.
        Assert.Equal(8 * RecordBlock.MaxRows, counts.Rows);
        Assert.Equal(8 * RecordBlock.MaxRows, recorder.DroppedTotal);
    }

    [Fact]
    public async Task DroppedPredictions_StillCountForVolume()
    {
        using var harness = new MonitorHarness(o => o.QueueCapacity = 512);
        var stream = new SyntheticStream(1);
        for (var i = 0; i < 20_000; i++)
        {
            var (row, prediction) = stream.Next();
            harness.Recorder.Record(row, prediction);
        }

        await harness.Monitor.FlushAsync();
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(1));
        Assert.Equal(20_000, report.Predictions);
        Assert.Equal(report.Predictions - report.Features.First(f => f.Name == "X").Count, report.Dropped);
        var stats = harness.Monitor.Statistics;
        Assert.Equal(20_000, stats.Recorded + stats.Dropped);
    }

    [Fact]
    public void Intervals_AreAlignedToTime_AndTheRingKeepsOnlyTheRetention()
    {
        using var harness = new MonitorHarness(o =>
        {
            o.Retention = TimeSpan.FromMinutes(5);
            o.Windows.Clear();
            o.Windows.Add(TimeSpan.FromMinutes(2));
        });
        var stream = new SyntheticStream(1);
        for (var minute = 1; minute <= 8; minute++)
        {
            harness.Run(stream, 1, minute * 10); // 10, 20, ..., 80 rows
        }

        var snapshot = harness.Monitor.ExportSnapshot();
        Assert.Equal(5, snapshot.IntervalCount);
        Assert.Equal(40 + 50 + 60 + 70 + 80, snapshot.Predictions);
        var lastTwo = harness.Monitor.GetReport(TimeSpan.FromMinutes(2));
        Assert.Equal(70 + 80, lastTwo.Predictions);
        Assert.Equal(MonitorHarness.Start.AddMinutes(6), lastTwo.Start);
        Assert.Equal(MonitorHarness.Start.AddMinutes(8), lastTwo.End);
        Assert.Equal(75, lastTwo.PredictionsPerMinute, 1e-9);
        Assert.Throws<ArgumentOutOfRangeException>(() => harness.Monitor.GetReport(TimeSpan.FromMinutes(6)));
    }

    [Fact]
    public async Task Features_ScalarsVectorsAndDictionaries_AreNamedAndTypedByTheDocumentedRules()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        var options = new MonitoringOptions();
        options.CategoricalFeatures.Add("Code");
        var recorder = PredictionRecorder<VectorInput, ZipMapOutput>.Create(options, time);
        using var monitor = new ModelMonitor("v", options, recorder, recorder, time, () => [], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new MonitorMetrics(null, "v"));
        var random = new Random(1);
        for (var i = 0; i < 100; i++)
        {
            var large = new double[300]; // wider than MaxTabularFeatures (256): summarized
            for (var j = 0; j < large.Length; j++)
            {
                large[j] = random.NextDouble();
            }

            recorder.Record(
                new VectorInput { Small = [1, 2, 3], Large = large, Code = i % 3, Flag = i % 2 == 0 },
                new ZipMapOutput { Label = i % 2 == 0 ? "a" : "b", Scores = new Dictionary<long, float> { [0] = 0.7f, [1] = 0.3f }, Value = i });
        }

        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var report = monitor.GetReport(TimeSpan.FromMinutes(1));
        var kinds = report.Features.ToDictionary(f => f.Name, f => (f.Role, f.Kind));

        Assert.Equal((FeatureRole.Input, FeatureKind.Numeric), kinds["Small[0]"]);
        Assert.True(kinds.ContainsKey("Small[2]"));
        Assert.False(kinds.ContainsKey("Large[0]"));
        Assert.Equal((FeatureRole.Input, FeatureKind.Numeric), kinds["Large.norm"]);
        Assert.True(kinds.ContainsKey("Large.mean"));
        Assert.True(kinds.ContainsKey("Large.projection3"));
        Assert.False(kinds.ContainsKey("Large.projection4"));
        Assert.Equal((FeatureRole.Input, FeatureKind.Categorical), kinds["Code"]);
        Assert.Equal((FeatureRole.Input, FeatureKind.Categorical), kinds["Flag"]);
        Assert.Equal((FeatureRole.Output, FeatureKind.Categorical), kinds["Label"]);
        Assert.Equal((FeatureRole.Output, FeatureKind.Numeric), kinds["Scores[0]"]);
        Assert.Equal((FeatureRole.Output, FeatureKind.Numeric), kinds["Scores.top"]);
        Assert.Equal((FeatureRole.Output, FeatureKind.Categorical), kinds["Scores.argmax"]);
        Assert.Equal((FeatureRole.Output, FeatureKind.Numeric), kinds["Value"]);
        Assert.Equal(0.7, report["Scores.top"]!.Mean, 1e-6);
        Assert.Equal(0.4, report["Scores.margin"]!.Mean, 1e-6);
        Assert.Equal(2.0, report["Small[1]"]!.Mean);
        Assert.Equal(100, report["Large.norm"]!.Count);
        Assert.Equal(49.5, report["Value"]!.Mean, 1e-9);
    }

    [Fact]
    public void RandomProjections_AreFixedBySeed()
    {
        static double Projection(int seed)
        {
            var time = new FakeTimeProvider(MonitorHarness.Start);
            var options = new MonitoringOptions { Seed = seed };
            var recorder = PredictionRecorder<VectorInput, ZipMapOutput>.Create(options, time);
            var catalog = new FeatureCatalog();
            var decoder = new RowDecoder(recorder.Schema, catalog, options);
            var block = new RecordBlock(RecorderBase.BlockNumbers, 64);
            recorder.EncodeInto(block, new VectorInput { Large = [.. Enumerable.Range(0, 300).Select(i => (double)i)] }, new ZipMapOutput());
            var interval = new IntervalProfile(0);
            decoder.Apply(block, interval, new ProfileFactory(200, seed), null);
            catalog.TryGet("Large.projection0", out var id);
            return interval[id]!.Moments!.Mean;
        }

        Assert.Equal(Projection(1), Projection(1));
        Assert.NotEqual(Projection(1), Projection(2));
    }
}
