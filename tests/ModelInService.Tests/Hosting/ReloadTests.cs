using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

public class ReloadTests
{
    [Fact]
    public async Task Reload_SwapsToANewVersion_AndRollbackRestoresTheOldOneInstantly()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var changes = new List<ModelVersionChangedEventArgs>();
        manager.VersionChanged += (_, e) => changes.Add(e);
        var first = manager.Current;
        Assert.Equal(16, first.Sha256.Length);
        Assert.EndsWith("iris_mlp.onnx", first.Source);

        var second = await manager.ReloadAsync();

        Assert.True(second.Version > first.Version);
        Assert.Equal(first.Sha256, second.Sha256); // same file
        Assert.Equal(second, manager.Current);
        Assert.Equal(first, manager.Previous);
        Assert.Equal(2, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica })).Label);

        var rolledBack = await manager.RollbackAsync();

        Assert.Equal(first.Version, rolledBack.Version);
        Assert.Equal(second.Version, manager.Previous!.Version);
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
        Assert.Equal(2, changes.Count);
        Assert.Equal(first.Version, changes[1].Current.Version);
    }

    [Fact]
    public async Task FailedReload_KeepsTheOldVersionServing_AndRaisesAnEvent()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        ModelReloadFailedEventArgs? failure = null;
        manager.ReloadFailed += (_, e) => failure = e;
        var before = manager.Current;

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromBytes([1, 2, 3], "broken upload")));

        Assert.Contains("broken upload", ex.Message);
        Assert.Equal(before, manager.Current);
        Assert.NotNull(failure);
        Assert.Equal(before, failure!.Serving);
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    public sealed class Renamed { [ModelInput("other")] public float[] X { get; set; } = []; }

    [Fact]
    public async Task ReloadToAModelThatDoesNotFitTheTypes_IsRefused()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        await Assert.ThrowsAsync<ModelSchemaException>(() => manager.ReloadAsync(ModelSource.FromFile(TestModels.VariableLength)));
        Assert.Equal(0, (await host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task Reload_MakesOldCacheEntriesUnreachable()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseCaching());
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var stats = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Features.Cache!.Statistics;
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        Assert.Equal(1, stats.Hits);

        await host.Services.GetRequiredService<IModelManager>().ReloadAsync();
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(1, stats.Hits);
        Assert.Equal(2, stats.Misses);
    }

    [Fact]
    public async Task WatchedFile_ReloadsAfterTheQuietPeriod_AndAHalfWrittenFileKeepsTheOldVersion()
    {
        var dir = Directory.CreateTempSubdirectory("mis-watch-");
        try
        {
            var path = Path.Combine(dir.FullName, "iris.onnx");
            File.Copy(TestModels.IrisMlp, path);
            var time = new FakeTimeProvider();
            using var host = await TestModels.StartAsync(s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddModel<IrisInput, IrisOutput>("iris", o =>
                {
                    o.Source = ModelSource.FromFile(path);
                    o.WatchForChanges = true;
                    o.ReloadDebounce = TimeSpan.FromSeconds(2);
                });
            });
            var manager = host.Services.GetRequiredService<IModelManager>();
            var watcher = host.Services.GetRequiredService<ModelRegistry>().Get("iris").Watcher!;
            var first = manager.Current;

            // A half-written file: the reload fails and the old version keeps serving.
            var failed = new TaskCompletionSource<ModelReloadFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            manager.ReloadFailed += (_, e) => failed.TrySetResult(e);
            await File.WriteAllBytesAsync(path, File.ReadAllBytes(TestModels.IrisMlp)[..200]);
            watcher.Touch();
            time.Advance(TimeSpan.FromSeconds(2));
            await KeepTimeMovingUntil(failed.Task, time);
            Assert.Equal(first, manager.Current);

            // The complete file arrives: after the quiet period the new version serves.
            var changed = new TaskCompletionSource<ModelVersionChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            manager.VersionChanged += (_, e) => changed.TrySetResult(e);
            File.Copy(TestModels.IrisFixed, path, overwrite: true);
            watcher.Touch();
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(changed.Task.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(1));

            var change = await KeepTimeMovingUntil(changed.Task, time);

            Assert.NotEqual(first.Sha256, change.Current.Sha256);
            Assert.Equal(2, (await host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Virginica })).Label);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Waits for <paramref name="task"/>, moving the fake clock on a second at a time: the file system's own change
    /// events arrive on real time and may restart the quiet period after a test's advance (seen on a loaded machine,
    /// for the half-written file as well as the complete one).
    /// </summary>
    private static async Task<T> KeepTimeMovingUntil<T>(Task<T> task, FakeTimeProvider time)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!task.IsCompleted && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.WhenAny(task, Task.Delay(250));
            if (!task.IsCompleted)
            {
                time.Advance(TimeSpan.FromSeconds(1));
            }
        }

        return await task.WaitAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task SwapsUnderLoad_ZeroFailedRequests()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp)
            .UseCaching(c => c.BypassBelowHitRate = 0)
            .UseBatching(b => { b.MaxBatchSize = 16; b.MaxDelay = TimeSpan.FromMilliseconds(1); b.MaxQueueSize = 4096; }));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var manager = host.Services.GetRequiredService<IModelManager>();
        var samples = new[] { IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica };
        using var stop = new CancellationTokenSource();
        long served = 0, wrong = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();

        var callers = Enumerable.Range(0, 64).Select(c => Task.Run(async () =>
        {
            var i = c;
            while (!stop.IsCancellationRequested)
            {
                await Task.Yield(); // like separate requests: cache hits complete synchronously and must not hog a pool thread
                try
                {
                    // Mostly unique inputs (perturbed) so batches really run on the model, plus exact repeats for the cache.
                    var features = (float[])samples[i % 3].Clone();
                    if (i % 4 != 0)
                    {
                        features[1] += (i % 1000) * 1e-6f;
                    }

                    var output = await predictor.PredictAsync(new IrisInput { Features = features });
                    if (output.Label != i % 3)
                    {
                        Interlocked.Increment(ref wrong);
                    }

                    Interlocked.Increment(ref served);
                }
                catch (Exception ex)
                {
                    failures.Add(ex);
                }

                i += 64;
            }
        })).ToArray();

        await Task.Delay(100);
        await manager.ReloadAsync();
        await Task.Delay(50);
        await manager.RollbackAsync();
        await Task.Delay(50);
        await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromBytes([9, 9, 9], "bad")));
        await Task.Delay(50);
        await manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisFixed));
        await Task.Delay(50);
        await manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisMlp));
        await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Empty(failures);
        Assert.Equal(0, wrong);
        Assert.True(served > 1000, $"only {served} requests were served");
    }
}
