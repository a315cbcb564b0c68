using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace ModelInService.Tests.Fallback;

public class FallbackTests
{
    [Fact]
    public async Task BrokenModel_AnswersWithTheFallbackDelegate_CountedAsFallback()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("broken", o =>
        {
            o.Source = ModelSource.FromBytes([1, 2, 3], "broken");
            o.ContinueOnLoadError = true;
        }).UseFallback<IrisInput, IrisOutput>((input, error, ct) => ValueTask.FromResult(new IrisOutput { Label = -1 })));
        using var requests = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "ModelInService", "model_in_service.requests");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var output = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(-1, output.Label);
        Assert.Equal("fallback", requests.LastMeasurement!.Tags["outcome"]);
    }

    [Fact]
    public async Task FallbackModel_AnswersWhenThePrimaryIsOverloaded_ButBadInputIsStillRejected()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("primary", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); o.MaxConcurrency = 1; })
                .UseBatching(b => { b.MaxQueueSize = 1; b.MaxBatchSize = 1; })
                .UseFallback("backup");
            s.AddModel<IrisInput, IrisOutput>("backup", o => o.Source = ModelSource.FromFile(TestModels.IrisFixed));
        });
        var registry = host.Services.GetRequiredService<ModelInService.Hosting.ModelRegistry>();
        var runtime = registry.Get("primary").Runtime;
        Assert.True(runtime.TryEnter()); // the primary is busy: its queue (1) fills at once
        var predictor = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("primary");

        var first = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask();
        while (registry.Get("primary").Features.Batcher!.QueueDepth != 0)
        {
            await Task.Yield(); // the worker takes it and waits for the busy slot
        }

        var second = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask(); // fills the queue
        var overflow = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask()));
        Assert.All(overflow, a => Assert.Equal(2, a.Label)); // answered at once by the backup model
        Assert.False(first.IsCompleted);

        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = [1] }));
        runtime.Exit();
        Assert.Equal(2, (await first).Label);
        Assert.Equal(2, (await second).Label);
    }

    [Fact]
    public void FallbackWithOtherTypes_OrItself_IsRejected()
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        Assert.Throws<InvalidOperationException>(() => builder.UseFallback<IrisFeatures, IrisOutput>((_, _, _) => default));
        Assert.Throws<ArgumentException>(() => builder.UseFallback("iris"));
    }

    private static Action<ModelOptions> Broken(byte b) => o =>
    {
        o.Source = ModelSource.FromBytes([b], "broken " + b);
        o.ContinueOnLoadError = true;
    };

    [Fact]
    public async Task A_fallback_cycle_an_unknown_fallback_and_one_of_other_types_stop_the_host_at_start()
    {
        // a -> b -> a overflowed the stack at the first failure and killed the process.
        var cycle = await Assert.ThrowsAsync<InvalidOperationException>(() => TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("a", Broken(1)).UseFallback("b");
            s.AddModel<IrisInput, IrisOutput>("b", Broken(2)).UseFallback("a");
        }));
        Assert.Contains("form a cycle (a -> b -> a)", cycle.Message, StringComparison.Ordinal);

        var unknown = await Assert.ThrowsAsync<InvalidOperationException>(() => TestModels.StartAsync(s =>
            s.AddModel<IrisInput, IrisOutput>("a", Broken(1)).UseFallback("no-such-model")));
        Assert.Contains("falls back to model 'no-such-model' (UseFallback), but no model of that name is registered", unknown.Message, StringComparison.Ordinal);

        var types = await Assert.ThrowsAsync<InvalidOperationException>(() => TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("a", Broken(1)).UseFallback("other");
            s.AddModel<IrisFeatures, IrisOutput>("other", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        }));
        Assert.Contains("which takes IrisFeatures", types.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_that_cancels_gets_its_cancellation_not_a_late_fallback_answer()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("broken", Broken(1))
            .UseFallback<IrisInput, IrisOutput>(async (input, error, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(10), ct);
                return new IrisOutput { Label = -1 };
            }));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, cancel.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}"); // the fallback got CancellationToken.None
    }

    [Fact]
    public async Task A_fallback_that_fails_too_leaves_the_caller_with_the_models_error_and_is_logged()
    {
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddLogging(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(logs)));
            s.AddModel<IrisInput, IrisOutput>("broken", Broken(1))
                .UseFallback<IrisInput, IrisOutput>((input, error, ct) => throw new TimeoutException("the fallback's store is down"));
        });
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        // Was the fallback's raw TimeoutException, the model's error lost.
        var error = await Assert.ThrowsAsync<ModelLoadException>(async () => await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }));

        Assert.Contains("broken 1", error.Message, StringComparison.Ordinal);
        var logged = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 1023);
        Assert.IsType<TimeoutException>(logged.Exception);
    }
}
