using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Caching;
using ModelInService.Hosting;
using ModelInService.Sessions;

namespace ModelInService.Tests.Caching;

/// <summary>
/// The cache across generations and deadlines, from an outside probe: a request keyed with one version but answered
/// by another (runs follow reloads) must not be stored under the first; a joiner keeps its own deadline; an owner's
/// deadline is its caller's, not the joiners'. Model B is iris_mlp.onnx with the output bias [0, 0, 60]: class 2 for
/// every input, where model A answers setosa as class 0.
/// </summary>
public sealed class CacheGenerationTests : IDisposable
{
    private readonly string _modelB = Path.Combine(Path.GetTempPath(), $"iris_b_{Guid.NewGuid():N}.onnx");

    public CacheGenerationTests()
    {
        // TensorProto B2: name (field 8) "B2", then raw_data (field 9) of 3 floats, as samples/ModelGenerator writes it.
        var bytes = File.ReadAllBytes(TestModels.IrisMlp);
        ReadOnlySpan<byte> marker = [0x42, 0x02, (byte)'B', (byte)'2', 0x4A, 0x0C];
        var at = bytes.AsSpan().IndexOf(marker);
        Assert.True(at > 0, "iris_mlp.onnx's output bias B2 was not found: the generator's layout changed");
        var bias = bytes.AsSpan(at + marker.Length, 12);
        BinaryPrimitives.WriteSingleLittleEndian(bias, 0f);
        BinaryPrimitives.WriteSingleLittleEndian(bias[4..], 0f);
        BinaryPrimitives.WriteSingleLittleEndian(bias[8..], 60f);
        File.WriteAllBytes(_modelB, bytes);
    }

    public void Dispose() => File.Delete(_modelB);

    private static IrisInput Setosa => new() { Features = [.. IrisSamples.Setosa] };

    private static async Task<(IHost Host, IPredictor<IrisInput, IrisOutput> Predictor, IModelManager Manager, ICacheCounters Cache)> StartAsync(
        FakeTimeProvider? time, Action<ModelBuilder> configure, int maxConcurrency = 0)
    {
        var host = await TestModels.StartAsync(s =>
        {
            if (time is not null)
            {
                s.AddSingleton<TimeProvider>(time);
            }

            configure(s.AddModel<IrisInput, IrisOutput>("iris", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.IrisMlp);
                if (maxConcurrency > 0)
                {
                    o.MaxConcurrency = maxConcurrency;
                }
            }).UseCaching(c => c.BypassBelowHitRate = 0));
        });
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var manager = host.Services.GetRequiredService<IModelManager>();
        var cache = host.Services.GetRequiredService<ModelRegistry>().Get("iris").Features.Cache!.Statistics;
        return (host, predictor, manager, cache);
    }

    private static async Task<T> AdvanceUntil<T>(Task<T> task, FakeTimeProvider time, TimeSpan step)
    {
        for (var i = 0; i < 400 && !task.IsCompleted; i++)
        {
            time.Advance(step);
            await Task.WhenAny(task, Task.Delay(25));
        }

        return await task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_queued_request_answered_by_the_reloaded_model_is_not_stored_under_the_old_version()
    {
        var time = new FakeTimeProvider();
        var (host, predictor, manager, _) = await StartAsync(time, m => m.UseBatching(b =>
        {
            b.MaxDelay = TimeSpan.FromSeconds(1);
            b.DispatchWhenIdle = false;
        }));
        using var _ = host;

        var queued = predictor.PredictAsync(Setosa).AsTask(); // keyed with A's version, waits for its batch
        await manager.ReloadAsync(ModelSource.FromFile(_modelB));
        Assert.Equal(2, (await AdvanceUntil(queued, time, TimeSpan.FromMilliseconds(250))).Label); // B ran the batch

        await manager.RollbackAsync(); // A again, the same generation and version as when the request was keyed
        var again = predictor.PredictAsync(Setosa).AsTask();
        Assert.Equal(0, (await AdvanceUntil(again, time, TimeSpan.FromMilliseconds(250))).Label); // B's answer was cached as A's before
    }

    [Fact]
    public async Task A_joiner_after_a_reload_and_a_rollback_does_not_take_an_answer_computed_across_them()
    {
        // Found by Under_reloads_and_rollbacks_... (one wrong answer in a CI run): the owner is keyed with A, its run
        // starts on B, A serves again (rollback) before it ends; a request arriving then, no swap during its own call,
        // joined the owner and took B's answer. The computation is gated here so the order is exact.
        var (host, _, manager, _) = await StartAsync(null, _ => { });
        using var _ = host;
        var modelHost = host.Services.GetRequiredService<ModelRegistry>().Get("iris");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        async ValueTask<IrisOutput> Compute(IrisInput input, PredictionOptions? options, CancellationToken ct)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await gate.Task;
                return new IrisOutput { Label = 2 }; // as B would answer
            }

            return new IrisOutput { Label = 0 }; // A
        }

        var cache = new PredictionCache<IrisInput, IrisOutput>(
            new ComputeStage<IrisInput, IrisOutput>(Compute), new CachingOptions(), TimeProvider.System, new LruCache<IrisOutput>(100, 1 << 20), null, modelHost);
        var owner = cache.PredictAsync(Serving<IrisInput, IrisOutput>.Of(modelHost.Runtime), Setosa, null, default).AsTask();
        await manager.ReloadAsync(ModelSource.FromFile(_modelB));
        await manager.RollbackAsync(); // A serves again

        var joiner = cache.PredictAsync(Serving<IrisInput, IrisOutput>.Of(modelHost.Runtime), Setosa, null, default).AsTask();
        Assert.Equal(1, cache.Statistics.Joins);
        gate.SetResult();

        Assert.Equal(2, (await owner.WaitAsync(TimeSpan.FromSeconds(10))).Label); // its call spanned the swaps
        Assert.Equal(0, (await joiner.WaitAsync(TimeSpan.FromSeconds(10))).Label); // looked again: A's answer
        Assert.Equal(2, calls);
        Assert.Equal(0, (await cache.PredictAsync(Serving<IrisInput, IrisOutput>.Of(modelHost.Runtime), Setosa, null, default)).Label); // the joiner's answer was stored
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_reloads_and_rollbacks_every_answer_of_a_call_without_a_swap_is_its_versions_and_the_cache_ends_clean(bool batching)
    {
        // Without batching, one run slot: a request that finds it busy waits for the generation serving then, which
        // may no longer be the one its key names.
        var (host, predictor, manager, _) = await StartAsync(null, m =>
        {
            if (batching)
            {
                m.UseBatching(b =>
                {
                    b.MaxBatchSize = 16;
                    b.MaxDelay = TimeSpan.FromMilliseconds(2);
                });
            }
        }, maxConcurrency: batching ? 0 : 1);
        using var _ = host;
        var inputs = Enumerable.Range(0, 200).Select(i => new[] { 4.4f + (i * 0.01f), 3.0f, 1.3f + (i * 0.02f), 0.2f + (i * 0.005f) }).ToArray();

        // Each model's own answers, uncached (PredictBatchAsync does not use the cache).
        var expectedA = (await predictor.PredictBatchAsync(inputs.Select(f => new IrisInput { Features = f }).ToArray())).Select(o => o.Probabilities[0]).ToArray();
        var versionA = manager.Current.Version;
        await manager.ReloadAsync(ModelSource.FromFile(_modelB));
        var expectedB = (await predictor.PredictBatchAsync(inputs.Select(f => new IrisInput { Features = f }).ToArray())).Select(o => o.Probabilities[0]).ToArray();
        Assert.All(expectedB.Zip(expectedA), p => Assert.NotEqual(p.First, p.Second));
        var swaps = 0L;

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var wrong = 0;
        var callers = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            while (!stop.IsCancellationRequested)
            {
                var i = random.Next(inputs.Length);
                var before = Interlocked.Read(ref swaps);
                var version = manager.Current.Version;
                var output = await predictor.PredictAsync(new IrisInput { Features = inputs[i] });
                // A call counts only when no swap was under way at its start (odd) nor happened during it (changed): a
                // call that began mid-swap may read the old version and run on the new one with the count unchanged.
                if (before % 2 == 0 && Interlocked.Read(ref swaps) == before && manager.Current.Version == version
                    && output.Probabilities[0] != (version == versionA ? expectedA[i] : expectedB[i]))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })).ToArray();
        while (!stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref swaps);
            await manager.RollbackAsync(); // A <-> B: rollback swaps with the kept generation
            Interlocked.Increment(ref swaps);
            await Task.Delay(5);
        }

        await Task.WhenAll(callers);
        Assert.Equal(0, wrong);

        // Quiet: every cached answer is the serving version's, on both sides.
        for (var side = 0; side < 2; side++)
        {
            var expected = manager.Current.Version == versionA ? expectedA : expectedB;
            for (var i = 0; i < inputs.Length; i++)
            {
                Assert.Equal(expected[i], (await predictor.PredictAsync(new IrisInput { Features = inputs[i] })).Probabilities[0]);
            }

            await manager.RollbackAsync();
        }
    }

    [Fact]
    public async Task A_joiner_keeps_its_own_deadline()
    {
        var time = new FakeTimeProvider();
        var (host, predictor, _, cache) = await StartAsync(time, m => m.UseBatching(b =>
        {
            b.MaxDelay = TimeSpan.FromSeconds(1);
            b.DispatchWhenIdle = false;
        }));
        using var _ = host;

        var owner = predictor.PredictAsync(Setosa).AsTask();
        var joiner = predictor.PredictAsync(Setosa, new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) }).AsTask();
        Assert.Equal(1, cache.Joins);
        time.Advance(TimeSpan.FromMilliseconds(60));
        var error = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => joiner.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(50), error.Timeout);
        Assert.False(owner.IsCompleted);
        Assert.Equal(0, (await AdvanceUntil(owner, time, TimeSpan.FromMilliseconds(250))).Label);
    }

    [Fact]
    public async Task An_owners_deadline_does_not_fail_the_joiners_and_each_request_is_counted_once()
    {
        var time = new FakeTimeProvider();
        var (host, predictor, _, cache) = await StartAsync(time, m => m.UseBatching(b =>
        {
            b.MaxDelay = TimeSpan.FromSeconds(1);
            b.DispatchWhenIdle = false;
        }));
        using var _ = host;

        var owner = predictor.PredictAsync(Setosa, new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) }).AsTask();
        var joiners = Enumerable.Range(0, 5).Select(_ => predictor.PredictAsync(Setosa).AsTask()).ToArray();
        time.Advance(TimeSpan.FromMilliseconds(60));
        await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => owner.WaitAsync(TimeSpan.FromSeconds(10)));

        var answers = await AdvanceUntil(Task.WhenAll(joiners), time, TimeSpan.FromMilliseconds(250));
        Assert.All(answers, a => Assert.Equal(0, a.Label));
        Assert.Equal(1, cache.Misses); // six requests, six lookups counted: the joiners' second look is not counted again
        Assert.Equal(5, cache.Joins);
    }
}
