using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.Tests.Monitoring;

/// <summary>Issue 13, defect 7: BuildReferenceAsync skips and counts rows that fail validation; a small reference says why it is not calibrated.</summary>
public class ReferenceBuildingTests
{
    private static async Task<(IHost Host, FakeLogCollector Log)> StartAsync(int chunkSize)
    {
        var collector = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        builder.Logging.AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(MonitorHarness.Start));
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseMonitoring(o =>
        {
            o.EvaluationInterval = TimeSpan.FromDays(1);
            o.ReferenceChunkSize = chunkSize;
            o.MinimumSampleSize = 50;
        });
        var host = builder.Build();
        await host.StartAsync();
        return (host, collector);
    }

    private static List<IrisInput> Rows(int count, Func<int, bool> invalid)
    {
        var random = new Random(5);
        float[][] centers = [IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica];
        var rows = new List<IrisInput>(count);
        for (var i = 0; i < count; i++)
        {
            var features = centers[i % 3].Select(v => v + (float)((random.NextDouble() - 0.5) * 0.4)).ToArray();
            if (invalid(i))
            {
                features[1] = float.NaN;
            }

            rows.Add(new IrisInput { Features = features });
        }

        return rows;
    }

    [Fact]
    public async Task RowsThatFailValidation_AreSkippedAndCounted_InTheReferenceTheFileAndTheLog()
    {
        var (host, log) = await StartAsync(chunkSize: 200);
        using var _ = host;
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");

        var reference = await monitor.BuildReferenceAsync(Rows(1_000, i => i % 143 == 7));

        Assert.Equal(7, reference.SkippedRows);
        Assert.Equal(993, reference.Rows);
        Assert.Contains("non-finite values are rejected", reference.SkippedReason);
        var warning = Assert.Single(log.GetSnapshot(), r => r.Id.Name == "MonitorReferenceRowsSkipped");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("7 of 1000 training rows failed input validation", warning.Message);
        Assert.Contains(log.GetSnapshot(), r => r.Id.Name == "MonitorReferenceBuilt" && r.Message.Contains("993 training rows (7 skipped", StringComparison.Ordinal));

        using var file = new MemoryStream();
        reference.Save(file);
        file.Position = 0;
        var loaded = MonitorReference.Load(file);
        Assert.Equal(7, loaded.SkippedRows);
        Assert.Equal(reference.SkippedReason, loaded.SkippedReason);

        var invalid = await Assert.ThrowsAsync<InvalidOperationException>(() => monitor.BuildReferenceAsync(Rows(10, _ => true)));
        Assert.Contains("all 10 training rows failed input validation", invalid.Message);
    }

    [Fact]
    public async Task AReferenceSmallerThanThreeChunks_SaysWhyItIsNotCalibrated()
    {
        var (host, _) = await StartAsync(chunkSize: 1_000);
        using var __ = host;
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        monitor.SetReference(await monitor.BuildReferenceAsync(Rows(600, _ => false)));
        await host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await monitor.FlushAsync();

        var feature = monitor.GetReport(TimeSpan.FromMinutes(15))["Features[0]"]!;

        Assert.True(double.IsNaN(feature.CalibratedThreshold));
        Assert.NotNull(feature.CalibrationNote);
        Assert.Contains("600 rows in 1 chunk(s)", feature.CalibrationNote);
        Assert.Contains("smaller ReferenceChunkSize", feature.CalibrationNote);

        monitor.SetReference(await monitor.BuildReferenceAsync(Rows(3_000, _ => false)));
        Assert.Null(monitor.GetReport(TimeSpan.FromMinutes(15))["Features[0]"]!.CalibrationNote);
    }
}
