using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using ModelInService.Telemetry;

namespace ModelInService.Tests.Telemetry;

/// <summary>
/// Prediction spans on the package's ActivitySource: one per call with what the library decided (cache, batch, queue
/// wait, outcome), children of the caller's span, never left as the caller's current activity.
/// </summary>
public sealed class TracingTests : IDisposable
{
    private static readonly ActivitySource Caller = new("ModelInService.Tests.Caller");
    private readonly string _model = "traced-" + Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ModelMetricNames.ActivitySource || s == Caller,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.Source.Name == ModelMetricNames.ActivitySource && Equals(a.GetTagItem(ModelTracing.ModelTag), _model))
                {
                    _stopped.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Each_call_is_a_span_with_the_cache_batch_and_outcome_under_the_callers_span()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(_model, o => o.Source = ModelSource.FromFile(TestModels.IrisMlp))
            .UseCaching(c => c.BypassBelowHitRate = 0)
            .UseBatching());
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var version = host.Services.GetRequiredService<IModelManager>().Current.Version;

        using var parent = Caller.StartActivity("request");
        Assert.NotNull(parent);
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        Assert.Same(parent, Activity.Current); // the span is not left current in the caller's flow
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await Assert.ThrowsAsync<ModelInputException>(() => predictor.PredictAsync(new IrisInput { Features = [1f, 2f] }).AsTask());
        await predictor.PredictBatchAsync([new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = IrisSamples.Virginica }]);
        Assert.Same(parent, Activity.Current);

        var spans = _stopped.ToArray();
        Assert.Equal(4, spans.Length);
        Assert.All(spans, s => Assert.Equal(parent.SpanId, s.ParentSpanId));

        var miss = spans[0];
        Assert.Equal("predict " + _model, miss.DisplayName);
        Assert.Equal(version, miss.GetTagItem(ModelTracing.VersionTag));
        Assert.Equal("miss", miss.GetTagItem(ModelTracing.CacheTag));
        Assert.Equal(1, miss.GetTagItem(ModelTracing.BatchSizeTag));
        Assert.IsType<double>(miss.GetTagItem(ModelTracing.QueueWaitTag));
        Assert.Equal("success", miss.GetTagItem(ModelTracing.OutcomeTag));

        var hit = spans[1];
        Assert.Equal("hit", hit.GetTagItem(ModelTracing.CacheTag));
        Assert.Null(hit.GetTagItem(ModelTracing.BatchSizeTag)); // answered from the cache: never queued

        var invalid = spans[2];
        Assert.Equal("invalid", invalid.GetTagItem(ModelTracing.OutcomeTag));
        Assert.Equal(typeof(ModelInputException).FullName, invalid.GetTagItem(ModelTracing.ErrorTypeTag));
        Assert.Equal(ActivityStatusCode.Error, invalid.Status);

        var batch = spans[3];
        Assert.Equal("predict_batch " + _model, batch.DisplayName);
        Assert.Equal(2, batch.GetTagItem(ModelTracing.RowsTag));
        Assert.Equal("success", batch.GetTagItem(ModelTracing.OutcomeTag));
    }

    [Fact]
    public async Task A_fallback_answer_is_marked_on_the_span()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(_model, o =>
            {
                o.Source = ModelSource.FromBytes([1, 2, 3], "garbage");
                o.ContinueOnLoadError = true;
            })
            .UseFallback<IrisInput, IrisOutput>((_, _, _) => ValueTask.FromResult(new IrisOutput { Label = 9 })));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        Assert.Equal(9, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);

        var span = Assert.Single(_stopped);
        Assert.Equal("success", span.GetTagItem(ModelTracing.OutcomeTag));
        Assert.NotNull(span.GetTagItem(ModelTracing.FallbackTag));
        Assert.Null(span.GetTagItem(ModelTracing.VersionTag)); // nothing serves
    }

    [Fact]
    public async Task A_canary_answer_is_marked_with_the_candidates_version()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(_model, o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var manager = host.Services.GetRequiredService<IModelManager>();
        var candidate = await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisMlp), 1.0);

        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        var span = Assert.Single(_stopped);
        Assert.Equal("canary", span.GetTagItem(ModelTracing.VariantTag));
        Assert.Equal(candidate.Version, span.GetTagItem(ModelTracing.VersionTag));
        Assert.NotEqual(manager.Current.Version, candidate.Version);
    }
}
