using Microsoft.Extensions.DependencyInjection;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// The dynamic batcher on the real shared models: 64 concurrent callers through <c>UseBatching()</c>, each checked
/// against the reference outputs, so batching (and bucketing by length) never changes or mixes up a result.
/// </summary>
public sealed class LibraryBatchingTests
{
    private const int Callers = 64;

    private static async Task<(ServiceProvider Provider, IPredictor<TIn, TOut> Predictor)> StartBatchedAsync<TIn, TOut>(string path)
    {
        var provider = await LibraryHarness.StartAsync(s => s.AddModel<TIn, TOut>("m", o => o.Source = ModelSource.FromFile(path))
            .UseBatching(b => { b.MaxBatchSize = 32; b.MaxDelay = TimeSpan.FromMilliseconds(2); }));
        return (provider, provider.GetRequiredKeyedService<IPredictor<TIn, TOut>>("m"));
    }

    private static Task<T[]> Concurrently<T>(Func<int, Task<T>> call) =>
        Task.WhenAll(Enumerable.Range(0, Callers).Select(async i =>
        {
            await Task.Yield();
            return await call(i);
        }));

    [SkippableFact]
    public async Task Nnsplit_batched_callers_with_mixed_lengths_reproduce_Add_26()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, expected) = LibraryNnsplitTests.Bundle();
        var (provider, predictor) = await StartBatchedAsync<NnsplitText, NnsplitScores>(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "model.onnx"));
        await using var _ = provider;
        var shortText = "Kurz. Gut."u8.ToArray();
        var shortExpected = (await predictor.PredictAsync(new NnsplitText { Bytes = shortText })).Scores;

        var outputs = await Concurrently(async i =>
        {
            var bytes = i % 3 == 2 ? shortText : rows[i % 3];
            return (i, (await predictor.PredictAsync(new NnsplitText { Bytes = bytes })).Scores);
        });

        foreach (var (i, scores) in outputs)
        {
            LibraryHarness.AssertClose(i % 3 == 2 ? shortExpected : expected[i % 3], scores, 1e-4, $"caller {i}");
        }
    }

    [SkippableFact]
    public async Task Xgboost_batched_callers_reproduce_io_npz()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "io.npz"));
        var features = arrays["input"].As<float>();
        var expected = arrays["probabilities"].As<float>();
        var (provider, predictor) = await StartBatchedAsync<XgboostInput, XgboostOutput>(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "model.onnx"));
        await using var _ = provider;

        var outputs = await Concurrently(async _ => await predictor.PredictAsync(new XgboostInput { Features = features }));

        Assert.All(outputs, o => LibraryHarness.AssertClose(expected, o.Probabilities, 1e-5, "probabilities"));
    }

    [SkippableFact]
    public async Task Sklearn_forest_batched_callers_reproduce_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, labels, probabilities) = LibraryTabularTests.IrisReference();
        var (provider, predictor) = await StartBatchedAsync<IrisForestInput, IrisForestOutput>(LibraryTabularTests.IrisForestPath);
        await using var _ = provider;

        var outputs = await Concurrently(async i => (i, await predictor.PredictAsync(new IrisForestInput { Features = rows[i % rows.Length] })));

        foreach (var (i, output) in outputs)
        {
            Assert.Equal(labels[i % rows.Length], output.Label);
            foreach (var (key, value) in probabilities[i % rows.Length])
            {
                Assert.Equal(value, output.Probabilities[key], 5);
            }
        }
    }

    [SkippableTheory]
    [InlineData("mnist-8.onnx")]
    [InlineData("mnist-8-setdim.onnx")]
    public async Task Mnist_batched_callers_classify_7_and_5(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var seven = LibraryMnistTests.Seven();
        var five = LibraryMnistTests.Five();
        var (provider, predictor) = await StartBatchedAsync<MnistImage, MnistLogits>(SharedData.Model("mnist", file));
        await using var _ = provider;

        var outputs = await Concurrently(async i => (i, (await predictor.PredictAsync(new MnistImage { Pixels = i % 2 == 0 ? seven : five })).Digit));

        Assert.All(outputs, o => Assert.Equal(o.i % 2 == 0 ? 7 : 5, o.Digit));
    }
}
