using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests;

public class IrisEndToEndTests
{
    [Fact]
    public async Task PredictAsync_ArrayInput_ClassifiesTheThreeSpecies()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var setosa = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        var versicolor = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
        var virginica = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica });

        Assert.Equal(0, setosa.Label);
        Assert.Equal(1, versicolor.Label);
        Assert.Equal(2, virginica.Label);
        Assert.Equal(3, setosa.Probabilities.Length);
        Assert.Equal(1.0, setosa.Probabilities.Sum(), 4);
        Assert.True(setosa.Probabilities[0] > 0.9f);
    }

    [Fact]
    public async Task PredictAsync_ScalarFeaturesAndScalarOutputs_MatchArrayBinding()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("arrays", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.AddModel<IrisFeatures, IrisScores>("scalars", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        });
        var arrays = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("arrays");
        var scalars = host.Services.GetRequiredKeyedService<IPredictor<IrisFeatures, IrisScores>>("scalars");

        foreach (var row in new[] { IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica })
        {
            var expected = await arrays.PredictAsync(new IrisInput { Features = row });
            var actual = await scalars.PredictAsync(new IrisFeatures(row[0], row[1], row[2], row[3]));
            Assert.Equal(expected.Label, actual.Label);
            Assert.Equal(expected.Probabilities, new[] { actual.Setosa, actual.Versicolor, actual.Virginica });
        }
    }

    [Fact]
    public async Task PredictBatchAsync_EqualsOneByOne_AcrossChunks()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.MaxRowsPerRun = 7; // forces several runs for 50 rows
        }));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var random = new Random(42);
        var inputs = Enumerable.Range(0, 50).Select(_ => new IrisInput
        {
            Features = [4 + (float)random.NextDouble() * 4, 2 + (float)random.NextDouble() * 2, 1 + (float)random.NextDouble() * 6, (float)random.NextDouble() * 2.5f],
        }).ToList();

        var batch = await predictor.PredictBatchAsync(inputs);

        Assert.Equal(inputs.Count, batch.Count);
        for (var i = 0; i < inputs.Count; i++)
        {
            var single = await predictor.PredictAsync(inputs[i]);
            Assert.Equal(single.Label, batch[i].Label);
            Assert.Equal(single.Probabilities, batch[i].Probabilities, (a, b) => Math.Abs(a - b) < 1e-6f);
        }
    }

    [Fact]
    public async Task PredictAsync_ConcurrentCallers_EachGetsItsOwnAnswer()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.MaxConcurrency = 2;
            o.SessionCopies = 2;
        }));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var samples = new[] { IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica };

        var tasks = Enumerable.Range(0, 600).Select(async i =>
        {
            await Task.Yield();
            var result = await predictor.PredictAsync(new IrisInput { Features = samples[i % 3] });
            return (Expected: i % 3, Actual: result.Label);
        }).ToList();
        var results = await Task.WhenAll(tasks);

        Assert.All(results, r => Assert.Equal(r.Expected, r.Actual));
    }

    [Fact]
    public async Task PredictAsync_CanceledToken_IsCanceledBeforeRunning()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, cts.Token));
    }

    [Fact]
    public async Task PredictAsync_AllSlotsBusy_WaitsAndCanBeCanceled()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.MaxConcurrency = 1;
        }));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var registry = host.Services.GetRequiredService<ModelInService.Hosting.ModelRegistry>();
        var runtime = registry.Get("iris").Runtime;
        Assert.True(runtime.TryEnter()); // hold the only slot

        using var cts = new CancellationTokenSource();
        var waiting = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        var second = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask();
        Assert.False(second.IsCompleted);
        runtime.Exit(); // free the slot: the waiting caller proceeds
        Assert.Equal(2, (await second).Label);
    }
}
