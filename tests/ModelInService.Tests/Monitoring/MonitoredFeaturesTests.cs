using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.Tests.Monitoring;

/// <summary>Issue 13, defect 6 and "visible decisions": what the monitor profiles is in the start-up log and in every report.</summary>
public class MonitoredFeaturesTests
{
    public sealed class Image
    {
        [ModelInput("image")]
        public float[] Pixels { get; set; } = [];
    }

    public sealed class Logits
    {
        [ModelOutput("logits")]
        public float[] Scores { get; set; } = [];
    }

    private static async Task<(IHost Host, FakeLogCollector Log)> StartAsync(Action<IServiceCollection> register)
    {
        var collector = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        builder.Logging.AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(MonitorHarness.Start));
        register(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return (host, collector);
    }

    [Fact]
    public async Task TabularInput_IsProfiledPerFeature_AndAnImageIsSummarized_BothListedAtStartUpAndInTheReport()
    {
        var (host, log) = await StartAsync(s =>
        {
            s.AddModel<MonitoringIntegrationTests.TrackedIris, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
            s.AddModel<Image, Logits>("image", o => o.Source = ModelSource.FromFile(TestModels.ImageLike)).UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
        });
        using var _ = host;

        var lines = log.GetSnapshot().Where(r => r.Id.Name == "MonitorFeatures").Select(r => r.Message).ToList();
        var iris = Assert.Single(lines, l => l.StartsWith("Model 'iris'", StringComparison.Ordinal));
        Assert.Contains("Features: 4 features Features[0]..Features[3] (input 'features' float32 [batch,4]); tabular input", iris);
        var image = Assert.Single(lines, l => l.StartsWith("Model 'image'", StringComparison.Ordinal));
        Assert.Contains("Pixels: 784 elements (input 'image' float32 [batch,1,28,28]) summarized as Pixels.norm, Pixels.mean and 4 random projections; not tabular (rank 4)", image);
        Assert.Contains("Scores: 10 features", image);

        await host.Services.GetRequiredService<IPredictor<Image, Logits>>().PredictAsync(new Image { Pixels = new float[784] });
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("image");
        await monitor.FlushAsync();
        var report = monitor.GetReport(TimeSpan.FromMinutes(15));
        var pixels = Assert.Single(report.MonitoredMembers, m => m.Member == "Pixels");
        Assert.Equal(MonitoredTreatment.Summarized, pixels.Treatment);
        Assert.Equal(6, pixels.FeatureCount);
        Assert.NotNull(report["Pixels.norm"]);
        Assert.Null(report["Pixels[0]"]);
    }

    [Fact]
    public async Task RectangularRows_AreProfiled_NotSilentlyDropped()
    {
        // Rows with several free dimensions bind to T[,,] members; the recorder had no writer for them, so the
        // monitor silently left them out of every profile and of the report's member list.
        var (host, _) = await StartAsync(s =>
            s.AddModel<Schema.ExporterConventionTests.ImageIn, Schema.ExporterConventionTests.ImageOut>("two-free", o => o.Source = ModelSource.FromFile(TestModels.Path("conv_two_free_dims.onnx")))
                .UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1)));
        using var _ = host;

        var predictor = host.Services.GetRequiredService<IPredictor<Schema.ExporterConventionTests.ImageIn, Schema.ExporterConventionTests.ImageOut>>();
        var x = new float[2, 3, 4];
        for (var i = 0; i < 2; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                for (var k = 0; k < 4; k++)
                {
                    x[i, j, k] = (i * 12) + (j * 4) + k;
                }
            }
        }

        await predictor.PredictAsync(new Schema.ExporterConventionTests.ImageIn { X = x });
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("two-free");
        await monitor.FlushAsync();
        var report = monitor.GetReport(TimeSpan.FromMinutes(15));

        var input = Assert.Single(report.MonitoredMembers, m => m.Member == "X");
        Assert.NotEqual(MonitoredTreatment.NotProfiled, input.Treatment);
        Assert.Contains(report.MonitoredMembers, m => m.Member == "Y" && m.Role == FeatureRole.Output);
        Assert.True(report["X.norm"] is not null || report["X[0]"] is not null, input.Description);
    }

    [Fact]
    public void WideVectorsWithoutASignature_AreTabularUpTo256_AndSummarizedBeyond()
    {
        var options = new MonitoringOptions();
        Assert.Equal(256, options.MaxTabularFeatures);
        using var harness = new WideHarness(options);
        harness.Record(new float[200]);
        var members = harness.Members();
        Assert.Equal(MonitoredTreatment.PerElement, members[0].Treatment);
        Assert.Equal(200, members[0].FeatureCount);

        using var wider = new WideHarness(new MonitoringOptions());
        wider.Record(new float[300]);
        Assert.Equal(MonitoredTreatment.Summarized, wider.Members()[0].Treatment);
    }

    private sealed class WideHarness : IDisposable
    {
        private readonly ModelInService.Monitoring.PredictionRecorder<WideRow, WideScore> _recorder;
        private readonly ModelInService.Monitoring.ModelMonitor _monitor;

        public WideHarness(MonitoringOptions options)
        {
            var time = new FakeTimeProvider(MonitorHarness.Start);
            _recorder = ModelInService.Monitoring.PredictionRecorder<WideRow, WideScore>.Create(options, time);
            _monitor = new ModelInService.Monitoring.ModelMonitor("wide", options, _recorder, _recorder, time, () => [], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new ModelInService.Monitoring.MonitorMetrics(null, "wide"));
        }

        public void Record(float[] features)
        {
            _recorder.Record(new WideRow { Features = features }, new WideScore());
            _monitor.FlushAsync().GetAwaiter().GetResult();
        }

        public IReadOnlyList<MonitoredMember> Members() => _monitor.MonitoredMembers;

        public void Dispose() => _monitor.Dispose();
    }
}
