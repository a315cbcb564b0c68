using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Batching;
using ModelInService.Schema;
using ModelInService.Hosting;
using ModelInService.Tests.Batching;

namespace ModelInService.Tests;

/// <summary>Regression tests for defects found in code review (each failed before its fix).</summary>
public class ReviewRegressionTests
{
    public sealed class MixedMembers
    {
        [ModelInput("features")] public float SepalLength;
        [ModelInput("features")] public float SepalWidth { get; set; }
        [ModelInput("features")] public float PetalLength;
        [ModelInput("features")] public float PetalWidth { get; set; }
    }

    [Fact]
    public async Task ScalarsMixingFieldsAndProperties_RequireAnExplicitOrder()
    {
        var services = new ServiceCollection();
        services.AddModel<MixedMembers, IrisOutput>("m", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        await using var provider = services.BuildServiceProvider();
        var ex = await Assert.ThrowsAsync<ModelSchemaException>(() => provider.StartModelsAsync());
        Assert.Contains("give each an explicit Order", Assert.Single(ex.Mismatches));
    }

    public sealed class Rows { public long[] Values { get; set; } = []; }

    [Fact]
    public void OutputWhoseFirstDimensionIsNotTheBatch_IsNotSplitAcrossCallers()
    {
        // An NMS/NonZero-style output: 3 detection rows for a run of 2 inputs must not be handed out 1.5 rows each.
        var spec = new TensorSpec("values", ModelValueKind.Tensor, ModelElementType.Int64, [-1, 2], ["detections", ""]);
        var binder = new TensorOutputBinder<Rows, long>("m", spec, MemberModel.ForOutput(typeof(Rows)), batchAxis: 0);
        using var value = OrtValue.CreateTensorValueFromMemory(new long[] { 0, 0, 0, 1, 1, 1 }, [3, 2]);

        var ex = Assert.Throws<ModelInferenceException>(() => binder.Unpack(value, [new Rows(), new Rows()], 2));
        Assert.Contains("has 3 rows on its batch axis 0 for 2 input rows", ex.Message);
    }

    [Fact]
    public void InputChangedAfterValidation_IsRejectedAtPacking_NotCopiedShort()
    {
        var spec = new TensorSpec("features", ModelValueKind.Tensor, ModelElementType.Float32, [-1, 4], ["batch", ""]);
        var binder = new NumericInputBinder<IrisInput, float>("m", spec, new RowShape(spec, true), MemberModel.ForInput(typeof(IrisInput)), new ModelOptions());
        var rows = new[] { new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = IrisSamples.Setosa } };
        binder.Validate(rows[1]);
        rows[1].Features = new float[5]; // mutated by its caller while queued

        var ex = Assert.Throws<ModelInputException>(() => binder.Pack(rows));
        Assert.Equal(1, ex.Index);
    }

    [Fact]
    public async Task CallerWaitingForASlot_WhenTheModelIsDisposed_GetsNotReady_NotAHang()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); o.MaxConcurrency = 1; }));
        var runtime = host.Services.GetRequiredService<ModelRegistry>().Get("iris").Runtime;
        Assert.True(runtime.TryEnter());
        var waiting = runtime.EnterAsync(CancellationToken.None).AsTask();

        runtime.Dispose(TimeSpan.FromMilliseconds(10)); // cannot drain: a run holds the slot
        runtime.Exit();

        await Assert.ThrowsAsync<ModelNotReadyException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Throws<ModelNotReadyException>(() => runtime.TryEnter());
    }

    private sealed class ThrowingListener : IBatcherListener
    {
        public void RequestCompleted(RequestOutcome outcome) => throw new InvalidOperationException("listener");

        public void BatchCompleted(int size, TimeSpan compute) => throw new InvalidOperationException("listener");

        public void QueueWaited(TimeSpan wait) => throw new InvalidOperationException("listener");

        public void QueueDepthChanged(int depth) => throw new InvalidOperationException("listener");
    }

    [Fact]
    public async Task ThrowingListener_NeverBreaksTheBatcher()
    {
        var time = new FakeTimeProvider();
        var batcher = new DynamicBatcher<int, int>("fake", new BatchingOptions { MaxBatchSize = 2, MaxDelay = TimeSpan.Zero }, 1, new FakeExecutor(time), time);
        batcher.Statistics.Listener = new ThrowingListener();

        var results = await Task.WhenAll(Enumerable.Range(1, 6).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask())).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([11, 21, 31, 41, 51, 61], results);
        Assert.True(batcher.Statistics.ListenerErrors > 0);
        await batcher.StopAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task ThrowingBucketFunction_DoesNotLeakQueueCapacity()
    {
        var time = new FakeTimeProvider();
        var executor = new FakeExecutor(time) { Bucket = i => i < 0 ? throw new InvalidOperationException("getter") : 0 };
        var batcher = new DynamicBatcher<int, int>("fake", new BatchingOptions { MaxQueueSize = 2, MaxDelay = TimeSpan.Zero }, 1, executor, time);
        for (var i = 0; i < 5; i++)
        {
            Assert.Throws<InvalidOperationException>(() => batcher.EnqueueAsync(-1, executor.BucketOf(-1), null, default)); // the caller computes the bucket first
        }

        Assert.Equal(0, batcher.QueueDepth);
        Assert.Equal(11, await batcher.EnqueueAsync(1, 0, null, default).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await batcher.StopAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void TimeoutsBeyondWhatTimersAccept_AreRejectedAtStart()
    {
        var result = new BatchingOptionsValidator().Validate("m", new BatchingOptions { DrainTimeout = TimeSpan.MaxValue, DefaultTimeout = TimeSpan.FromDays(100) });
        Assert.True(result.Failed);
        Assert.Contains("DrainTimeout", result.FailureMessage);
        Assert.Contains("DefaultTimeout", result.FailureMessage);
    }

    [Fact]
    public async Task NegativeCallTimeout_IsAnArgumentError_OnBothPaths()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Assert.Throws<ArgumentOutOfRangeException>(() => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, new PredictionOptions { Timeout = TimeSpan.FromSeconds(-1) }));
    }
}
