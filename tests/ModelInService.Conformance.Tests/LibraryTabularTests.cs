using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>Iris features for the yalue sklearn random forest (input <c>X</c>, float32 [?,4]).</summary>
public sealed class IrisForestInput
{
    [ModelInput("X")]
    public float[] Features { get; set; } = [];
}

/// <summary>The same input as a positional record, the attribute on the parameter.</summary>
public sealed record IrisForestRecordInput([ModelInput("X")] float[] Features);

/// <summary>Label (int64 [?]) and ZipMap probabilities as a dictionary.</summary>
public sealed class IrisForestOutput
{
    [ModelOutput("output_label")]
    public long Label { get; set; }

    [ModelOutput("output_probability")]
    public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
}

/// <summary>Label and ZipMap probabilities as an array in key order, as a positional record.</summary>
public sealed record IrisForestArrayOutput(
    [ModelOutput("output_label")] long Label,
    [ModelOutput("output_probability")] float[] Probabilities);

/// <summary>tract's xgboost classifier: 13 features.</summary>
public sealed class XgboostInput
{
    [ModelInput("input")]
    public float[] Features { get; set; } = [];
}

/// <summary>Label (int64 [?]) and probabilities (float32 [?,3]); names matched ignoring case.</summary>
public sealed class XgboostOutput
{
    public long Label { get; set; }

    public float[] Probabilities { get; set; } = [];
}

/// <summary>The tabular shared models through <see cref="IPredictor{TInput, TOutput}"/>.</summary>
public sealed class LibraryTabularTests
{
    private const float Tolerance = 1e-5f;

    [SkippableFact]
    public async Task Sklearn_forest_batch_reproduces_reference_json_with_dictionary_probabilities()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, labels, probabilities) = IrisReference();
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<IrisForestInput, IrisForestOutput>("iris-forest", IrisForestPath);
        await using var _ = provider;

        var outputs = await predictor.PredictBatchAsync(rows.Select(r => new IrisForestInput { Features = r }).ToArray());

        Assert.Equal(labels, outputs.Select(o => o.Label));
        for (var r = 0; r < rows.Length; r++)
        {
            AssertProbabilities(probabilities[r], outputs[r].Probabilities, r);
        }
    }

    [SkippableFact]
    public async Task Sklearn_forest_batch_split_over_several_runs_reproduces_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, labels, probabilities) = IrisReference();
        // 6 rows, 4 per run: the second run gets 2 rows, so the ZipMap sequence must be split per run.
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<IrisForestInput, IrisForestOutput>("iris-forest", IrisForestPath, o => o.MaxRowsPerRun = 4);
        await using var _ = provider;

        var outputs = await predictor.PredictBatchAsync(rows.Select(r => new IrisForestInput { Features = r }).ToArray());

        Assert.Equal(labels, outputs.Select(o => o.Label));
        for (var r = 0; r < rows.Length; r++)
        {
            AssertProbabilities(probabilities[r], outputs[r].Probabilities, r);
        }
    }

    [SkippableFact]
    public async Task Sklearn_forest_one_by_one_reproduces_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, labels, probabilities) = IrisReference();
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<IrisForestInput, IrisForestOutput>("iris-forest", IrisForestPath);
        await using var _ = provider;

        for (var r = 0; r < rows.Length; r++)
        {
            var output = await predictor.PredictAsync(new IrisForestInput { Features = rows[r] });
            Assert.Equal(labels[r], output.Label);
            AssertProbabilities(probabilities[r], output.Probabilities, r);
        }
    }

    [SkippableFact]
    public async Task Sklearn_forest_array_probabilities_and_record_types_reproduce_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, labels, probabilities) = IrisReference();
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<IrisForestRecordInput, IrisForestArrayOutput>("iris-forest-array", IrisForestPath);
        await using var _ = provider;

        var batch = await predictor.PredictBatchAsync(rows.Select(r => new IrisForestRecordInput(r)).ToArray());
        for (var r = 0; r < rows.Length; r++)
        {
            var single = await predictor.PredictAsync(new IrisForestRecordInput(rows[r]));
            foreach (var output in new[] { batch[r], single })
            {
                Assert.Equal(labels[r], output.Label);
                // float[] on a seq(map) output: the values in key order (0, 1, 2).
                var expected = probabilities[r].OrderBy(p => p.Key).Select(p => p.Value).ToArray();
                LibraryHarness.AssertClose(expected, output.Probabilities, Tolerance, $"row {r} probabilities");
            }
        }
    }

    [SkippableFact]
    public async Task Xgboost_classifier_reproduces_io_npz()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "io.npz"));
        var input = arrays["input"];
        var expected = arrays["probabilities"];
        Assert.Equal([1L, 13L], input.Dims);
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<XgboostInput, XgboostOutput>(
            "xgboost", SharedData.Model("tabular", "tract_xgboost_classifier_tree", "model.onnx"));
        await using var _ = provider;

        var single = await predictor.PredictAsync(new XgboostInput { Features = input.As<float>() });
        var batch = await predictor.PredictBatchAsync([new XgboostInput { Features = input.As<float>() }, new XgboostInput { Features = input.As<float>() }]);

        foreach (var output in batch.Prepend(single))
        {
            Assert.Equal(0L, output.Label);
            Assert.Equal(3, output.Probabilities.Length);
            LibraryHarness.AssertClose(expected.As<float>(), output.Probabilities, Tolerance, "probabilities");
        }
    }

    internal static string IrisForestPath => SharedData.Model("tabular", "yalue_sklearn_randomforest_iris", "model.onnx");

    /// <summary>The six reference rows, their labels and probability maps.</summary>
    internal static (float[][] Rows, long[] Labels, IReadOnlyList<IReadOnlyDictionary<long, float>> Probabilities) IrisReference()
    {
        var reference = Assert.Single(ReferenceJson.ReadTabularCases(SharedData.Model("tabular", "yalue_sklearn_randomforest_iris", "reference.json")));
        var x = reference.Inputs["X"];
        Assert.Equal([6L, 4L], x.Dims);
        var flat = x.As<float>();
        var rows = Enumerable.Range(0, 6).Select(r => flat.AsSpan(r * 4, 4).ToArray()).ToArray();
        return (rows, reference.ExpectedLabels["output_label"], reference.ExpectedProbabilities["output_probability"]);
    }

    private static void AssertProbabilities(IReadOnlyDictionary<long, float> expected, IReadOnlyDictionary<long, float> actual, int row)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, probability) in expected)
        {
            Assert.True(Math.Abs(actual[key] - probability) <= Tolerance, $"row {row} class {key}: expected {probability}, got {actual[key]}");
        }
    }
}
