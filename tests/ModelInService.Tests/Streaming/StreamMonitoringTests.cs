using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Streaming;
using ModelInService.Tests.Monitoring;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>UseMonitoring on a streaming model: every answered chunk is recorded, failed chunks are not.</summary>
public class StreamMonitoringTests
{
    private static async Task<IHost> StartAsync(FakeTimeProvider time, bool sequenceBatching = false) =>
        await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            SileroVad.Add(s, o => o.SequenceBatching = sequenceBatching).UseMonitoring(o =>
            {
                o.Windows.Clear();
                o.Windows.Add(TimeSpan.FromMinutes(5));
                o.MinimumSampleSize = 50;

                // The test evaluates explicitly; the hosted timer would race it for the state transitions.
                o.EvaluationInterval = TimeSpan.FromDays(1);
                o.Retention = TimeSpan.FromHours(1);
            });
        });

    /// <summary>Chunks of white noise of the given amplitude.</summary>
    private static float[] Noise(Random random, float amplitude)
    {
        var chunk = new float[SileroVad.ChunkSamples];
        for (var i = 0; i < chunk.Length; i++)
        {
            chunk[i] = (float)(random.NextDouble() - 0.5) * 2 * amplitude;
        }

        return chunk;
    }

    /// <summary>Sends <paramref name="perMinute"/> chunks in each of 5 minutes on the fake clock.</summary>
    private static async Task StreamFiveMinutesAsync(IStreamSession<VadChunk, VadResult> stream, FakeTimeProvider time, Random random, float amplitude, int perMinute = 60)
    {
        for (var minute = 0; minute < 5; minute++)
        {
            for (var i = 0; i < perMinute; i++)
            {
                await stream.PredictAsync(new VadChunk { Samples = Noise(random, amplitude) });
            }

            time.Advance(TimeSpan.FromMinutes(1));
        }
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UseMonitoring_RecordsEveryAnsweredChunk_AndAShiftedStreamDrifts(bool sequenceBatching)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time, sequenceBatching);
        var predictor = host.Services.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>(SileroVad.Name);
        var random = new Random(7);

        // A quiet stream, frozen as the reference.
        await using (var quiet = predictor.OpenStream("quiet"))
        {
            await StreamFiveMinutesAsync(quiet, time, random, amplitude: 0.01f);
        }

        await monitor.FlushAsync();
        var calm = monitor.GetReport(TimeSpan.FromMinutes(5));
        Assert.Equal(300, calm.Predictions);

        // The chunk's input (512 samples, summarized) and its output; the state and the context are not features.
        Assert.Equal(
            ["Samples.norm", "Samples.mean", "Samples.projection0", "Samples.projection1", "Samples.projection2", "Samples.projection3", "Probability"],
            calm.Features.Select(f => f.Name));
        Assert.All(calm.Features, f => Assert.Equal(300, f.Count));
        monitor.SetReference(monitor.FreezeReference(TimeSpan.FromMinutes(5)));

        // The same kind of stream again: no drift.
        await using (var same = predictor.OpenStream("same"))
        {
            await StreamFiveMinutesAsync(same, time, random, amplitude: 0.01f);
        }

        await monitor.FlushAsync();
        var stable = await monitor.EvaluateAsync();
        Assert.DoesNotContain(stable, e => e.Kind == ModelMonitorEventKind.DriftDetected);

        // A loud stream: the samples' norm drifts.
        await using (var loud = predictor.OpenStream("loud"))
        {
            await StreamFiveMinutesAsync(loud, time, random, amplitude: 0.3f);
        }

        await monitor.FlushAsync();
        var events = await monitor.EvaluateAsync();
        Assert.Contains(events, e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "Samples.norm");
    }

    [SkippableFact]
    public async Task FailedCanceledAndInvalidChunks_AreNotRecorded_InvalidOnesCountAsSchemaViolations()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time);
        var predictor = host.Services.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>(SileroVad.Name);
        var signal = SileroVad.Signal(3, 10);
        var poison = signal[4];
        ((StreamPredictor<VadChunk, VadResult>)predictor).BeforeRun = rows =>
        {
            foreach (var row in rows)
            {
                if (ReferenceEquals(row.Chunk.Samples, poison))
                {
                    throw new ModelInferenceException(SileroVad.Name, "injected failure", null);
                }
            }
        };

        await using var stream = predictor.OpenStream("s");
        var answered = 0;
        foreach (var chunk in signal)
        {
            try
            {
                await stream.PredictAsync(new VadChunk { Samples = chunk });
                answered++;
            }
            catch (ModelInferenceException)
            {
            }
        }

        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.PredictAsync(new VadChunk { Samples = signal[0] }, canceled.Token));
        await Assert.ThrowsAsync<ModelInputException>(async () => await stream.PredictAsync(new VadChunk { Samples = null! }));
        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var report = monitor.GetReport(TimeSpan.FromMinutes(1));

        Assert.Equal(9, answered);
        Assert.Equal(9, stream.ChunkCount);
        Assert.Equal(9, report.Predictions);
        Assert.Equal(9, report["Probability"]!.Count);
        Assert.Equal(1, report.SchemaViolations);
    }

    [SkippableFact]
    public async Task BuildReferenceAsync_OnAStreamingModel_SaysToFreezeAWindowOrLoadAFile()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time);
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>(SileroVad.Name);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => monitor.BuildReferenceAsync(new[] { new VadChunk { Samples = new float[512] } }));

        Assert.Contains("streaming model", error.Message, StringComparison.Ordinal);
        Assert.Contains("FreezeReference", error.Message, StringComparison.Ordinal);
    }
}
