using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ModelInService.ModelGenerator;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

public sealed class ZipMapInput
{
    [ModelInput("x")]
    public float[] X { get; set; } = [];
}

public sealed class ZipMapInt64Output
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("output_probability")]
    public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
}

public sealed class ZipMapStringOutput
{
    [ModelOutput("output_probability")]
    public IReadOnlyDictionary<string, float> Probabilities { get; set; } = new Dictionary<string, float>();
}

public sealed class ZipMapMutableOutput
{
    [ModelOutput("output_probability")]
    public Dictionary<long, float> Probabilities { get; set; } = [];
}

public sealed class ZipMapArrayOutput
{
    [ModelOutput("output_probability")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>
/// <see cref="ModelOptions.RemoveZipMap"/>: a classifier's ZipMap node is removed at load and its maps are built in
/// managed code. Every test loads the same model twice, with the node removed (the default) and kept, and requires the
/// two to give identical results (same keys in the same order, bit-identical values), through typed predictors (one
/// row, <c>PredictBatchAsync</c>, the batcher) and through <see cref="IModelRunner"/>; and the decision is logged.
/// </summary>
public sealed class LibraryZipMapRemovalTests
{
    private const int Removed = 1017;
    private const int Kept = 1018;

    public static TheoryData<string, string> SharedZipMapModels => new()
    {
        { "yalue_sklearn_randomforest_iris", "model.onnx" },
        { "skl2onnx_docs", "rf_iris.onnx" },
        { "skl2onnx_docs", "logreg_iris.onnx" },
        { "skl2onnx_docs", "pipeline_lightgbm.onnx" },
        { "skl2onnx_docs", "pipeline_xgboost.onnx" },
    };

    [SkippableTheory]
    [MemberData(nameof(SharedZipMapModels))]
    public async Task SharedSklearnClassifiers_GiveTheSameMaps_WithTheZipMapRemoved(string folder, string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var bytes = File.ReadAllBytes(SharedData.Model("tabular", folder, file));
        await using var removed = await StartUntypedAsync(bytes, remove: true);
        await using var kept = await StartUntypedAsync(bytes, remove: false);

        Assert.Contains(removed.Logs, l => l.Id.Id == Removed);
        Assert.DoesNotContain(kept.Logs, l => l.Id.Id is Removed or Kept);
        Assert.Equal(Describe(kept.Runner.Signature.Outputs), Describe(removed.Runner.Signature.Outputs));

        var input = removed.Runner.Signature.Inputs[0];
        var width = (int)input.Dimensions[1];
        var random = new Random(17);
        foreach (var rows in new[] { 1, 3, 50 })
        {
            var data = new float[rows * width];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = (float)(random.NextDouble() * 8);
            }

            var a = await removed.Runner.RunAsync([NamedTensor.Create(input.Name, data, rows, width)]);
            var b = await kept.Runner.RunAsync([NamedTensor.Create(input.Name, data, rows, width)]);
            AssertSameOutputs(b, a, $"{file}, {rows} rows");
        }
    }

    [Fact]
    public async Task UnsortedInt64Labels_AreKeyedAndOrderedAsOnnxRuntimeDoes()
    {
        var bytes = ZipMapModels.Int64Labels([7, -2, 30, 0]);
        var rows = Rows(37, 4);
        await using var removed = await StartTypedAsync<ZipMapInt64Output>(bytes, remove: true);
        await using var kept = await StartTypedAsync<ZipMapInt64Output>(bytes, remove: false);
        Assert.Contains(removed.Logs, l => l.Id.Id == Removed);

        var expected = await kept.Predictor.PredictBatchAsync(rows);
        Assert.Equal([-2L, 0, 7, 30], expected[0].Probabilities.Keys); // ONNX Runtime's map order: ascending
        foreach (var actual in await Results(removed.Predictor, rows))
        {
            for (var r = 0; r < rows.Length; r++)
            {
                Assert.Equal(expected[r].Label, actual[r].Label);
                Assert.Equal(expected[r].Probabilities.ToArray(), actual[r].Probabilities.ToArray()); // keys, order and values
            }
        }

        // An array member gets the values in the map's key order, on both paths.
        await using var removedArrays = await StartTypedAsync<ZipMapArrayOutput>(bytes, remove: true);
        await using var keptArrays = await StartTypedAsync<ZipMapArrayOutput>(bytes, remove: false);
        var expectedArrays = await keptArrays.Predictor.PredictBatchAsync(rows);
        foreach (var actual in await Results(removedArrays.Predictor, rows))
        {
            for (var r = 0; r < rows.Length; r++)
            {
                Assert.Equal(expectedArrays[r].Probabilities, actual[r].Probabilities);
                Assert.Equal(expected[r].Probabilities.Values, actual[r].Probabilities);
            }
        }
    }

    [Theory]
    [InlineData(4)] // keys found by a scan
    [InlineData(40)] // keys found through the shared index
    public async Task AReadOnlyMember_GetsRowsThatShareTheirKeys_AMutableMemberAPlainDictionary(int classes)
    {
        var labels = Enumerable.Range(0, classes).Select(i => (long)((i * 37 % classes * 3) - 50)).ToArray(); // unsorted, negative ones too
        var bytes = ZipMapModels.Int64Labels(labels);
        var rows = Rows(150, classes); // narrow maps share value arrays in chunks of 64 rows: three chunks
        await using var readOnly = await StartTypedAsync<ZipMapInt64Output>(bytes, remove: true);
        await using var mutable = await StartTypedAsync<ZipMapMutableOutput>(bytes, remove: true);
        var shared = await readOnly.Predictor.PredictBatchAsync(rows);
        var plain = await mutable.Predictor.PredictBatchAsync(rows);

        Assert.IsNotType<Dictionary<long, float>>(shared[0].Probabilities);
        Assert.Same(shared[0].Probabilities.Keys, shared[1].Probabilities.Keys); // one key array for every row
        for (var r = 0; r < rows.Length; r++)
        {
            var map = shared[r].Probabilities;
            var expected = plain[r].Probabilities;
            Assert.IsType<Dictionary<long, float>>(expected);
            Assert.Equal(expected.ToArray(), map.ToArray()); // keys, their order and values
            Assert.Equal(expected.Count, map.Count);
            Assert.Equal(expected.Values, map.Values);
            foreach (var (key, value) in expected)
            {
                Assert.Equal(value, map[key]);
                Assert.True(map.TryGetValue(key, out var found) && found == value);
                Assert.True(map.ContainsKey(key));
            }

            Assert.False(map.ContainsKey(1_000));
            Assert.False(map.TryGetValue(1_000, out _));
            var missing = Assert.Throws<KeyNotFoundException>(() => map[1_000]);
            Assert.Contains("'1000'", missing.Message, StringComparison.Ordinal);
        }

        // A careless or hostile caller cannot reach the shared keys or values through a cast: they are shared by the
        // other rows (and the keys by every later prediction).
        var first = shared[0].Probabilities;
        Assert.IsNotType<long[]>(first.Keys);
        var keyList = Assert.IsAssignableFrom<IList<long>>(first.Keys);
        Assert.Throws<NotSupportedException>(() => keyList[0] = 12_345);
        Assert.False(first.Values is float[] or ArraySegment<float> or IList<float> { IsReadOnly: false }, first.Values.GetType().Name);
        var again = await readOnly.Predictor.PredictBatchAsync(rows);
        Assert.Equal(plain[1].Probabilities.Keys, again[1].Probabilities.Keys);

        plain[0].Probabilities[labels[0]] = 2; // a member declared mutable stays a Dictionary the caller may change
        Assert.Equal(2, plain[0].Probabilities[labels[0]]);
    }

    [Fact]
    public async Task StringLabels_AreOrderedByUtf8Bytes_AsOnnxRuntimesStdMapDoes()
    {
        // UTF-16 puts the emoji (a surrogate pair, 0xD83D...) before U+E000; UTF-8 (0xF0... vs 0xEE...) after it.
        string[] labels = ["zeta", "Alpha", "\U0001F600", "\uE000", "é", "b"];
        var bytes = ZipMapModels.StringLabels(labels);
        var rows = Rows(21, labels.Length);
        await using var removed = await StartTypedAsync<ZipMapStringOutput>(bytes, remove: true);
        await using var kept = await StartTypedAsync<ZipMapStringOutput>(bytes, remove: false);
        Assert.Contains(removed.Logs, l => l.Id.Id == Removed);

        var expected = await kept.Predictor.PredictBatchAsync(rows);
        Assert.Equal(["Alpha", "b", "zeta", "é", "\uE000", "\U0001F600"], expected[0].Probabilities.Keys);
        foreach (var actual in await Results(removed.Predictor, rows))
        {
            for (var r = 0; r < rows.Length; r++)
            {
                Assert.Equal(expected[r].Probabilities.ToArray(), actual[r].Probabilities.ToArray());
            }
        }

        await using var removedRunner = await StartUntypedAsync(bytes, remove: true);
        await using var keptRunner = await StartUntypedAsync(bytes, remove: false);
        var data = rows.SelectMany(r => r.X).ToArray();
        AssertSameOutputs(
            await keptRunner.Runner.RunAsync([NamedTensor.Create("x", data, rows.Length, labels.Length)]),
            await removedRunner.Runner.RunAsync([NamedTensor.Create("x", data, rows.Length, labels.Length)]),
            "string labels, runner");
    }

    [Fact]
    public async Task AZipMapWhoseRemovalCouldChangeTheGraph_IsKept_AndTheReasonLogged()
    {
        var alsoTensor = ZipMapModels.Int64Labels([0, 1, 2], alsoOutputTensor: true);
        await using (var model = await StartUntypedAsync(alsoTensor, remove: true))
        {
            var log = Assert.Single(model.Logs, l => l.Id.Id == Kept);
            Assert.Contains("'probability_tensor' is a graph input or output", log.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(model.Logs, l => l.Id.Id == Removed);
            var outputs = await model.Runner.RunAsync([NamedTensor.Create("x", new float[] { 1, 2, 3 }, 1, 3)]);
            Assert.Equal(3, outputs.Count);
        }

        var repeated = ZipMapModels.Int64Labels([4, 4, 9]);
        await using (var model = await StartUntypedAsync(repeated, remove: true))
        {
            var log = Assert.Single(model.Logs, l => l.Id.Id == Kept);
            Assert.Contains("labels are missing or repeat", log.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TheRepositorysZipMapSample_IsServedWithTheZipMapRemoved_ByDefault()
    {
        var bytes = File.ReadAllBytes(SharedData.RepoModel("iris_mlp_zipmap.onnx"));
        await using var model = await StartUntypedAsync(bytes, remove: null);
        var log = Assert.Single(model.Logs, l => l.Id.Id == Removed);
        Assert.Contains("'output_probability' is built in managed code from tensor 'probability_tensor' (3 classes)", log.Message, StringComparison.Ordinal);
    }

    private static ZipMapInput[] Rows(int count, int width)
    {
        var random = new Random(count);
        var rows = new ZipMapInput[count];
        for (var r = 0; r < count; r++)
        {
            rows[r] = new ZipMapInput { X = Enumerable.Range(0, width).Select(_ => (float)((random.NextDouble() * 6) - 3)).ToArray() };
        }

        return rows;
    }

    /// <summary>The predictor's results three ways: one call per row, one <c>PredictBatchAsync</c>, and concurrent calls through the batcher.</summary>
    private static async Task<List<IReadOnlyList<TOut>>> Results<TOut>(IPredictor<ZipMapInput, TOut> predictor, ZipMapInput[] rows)
    {
        var single = new List<TOut>();
        foreach (var row in rows)
        {
            single.Add(await predictor.PredictAsync(row));
        }

        var concurrent = await Task.WhenAll(rows.Select(r => predictor.PredictAsync(r).AsTask()));
        return [single, await predictor.PredictBatchAsync(rows), concurrent];
    }

    private static string[] Describe(IReadOnlyList<TensorSpec> specs) => specs.Select(s => $"{s.Name} {s}").ToArray();

    private static void AssertSameOutputs(IReadOnlyList<NamedTensor> expected, IReadOnlyList<NamedTensor> actual, string what)
    {
        Assert.Equal(expected.Select(o => o.Name), actual.Select(o => o.Name));
        for (var o = 0; o < expected.Count; o++)
        {
            Assert.Equal(expected[o].Kind, actual[o].Kind);
            Assert.Equal(expected[o].Shape, actual[o].Shape);
            if (expected[o].Kind != ModelValueKind.SequenceOfMaps)
            {
                Assert.Equal(expected[o].Data, actual[o].Data);
                continue;
            }

            if (expected[o].Data is IReadOnlyDictionary<long, float>[] longMaps)
            {
                var actualMaps = actual[o].GetMaps<long, float>();
                Assert.Equal(longMaps.Length, actualMaps.Count);
                for (var r = 0; r < longMaps.Length; r++)
                {
                    Assert.True(longMaps[r].SequenceEqual(actualMaps[r]), $"{what}: row {r} of '{expected[o].Name}' differs");
                }
            }
            else
            {
                var stringMaps = expected[o].GetMaps<string, float>();
                var actualMaps = actual[o].GetMaps<string, float>();
                Assert.Equal(stringMaps.Count, actualMaps.Count);
                for (var r = 0; r < stringMaps.Count; r++)
                {
                    Assert.True(stringMaps[r].SequenceEqual(actualMaps[r]), $"{what}: row {r} of '{expected[o].Name}' differs");
                }
            }
        }
    }

    private static async Task<Started<IModelRunner>> StartUntypedAsync(byte[] bytes, bool? remove)
    {
        var provider = await LibraryHarness.StartAsync(s =>
        {
            s.AddFakeLogging();
            s.AddModel("m", o =>
            {
                o.Source = ModelSource.FromBytes(bytes);
                if (remove is { } r)
                {
                    o.RemoveZipMap = r;
                }
            });
        });
        return new Started<IModelRunner>(provider, provider.GetRequiredKeyedService<IModelRunner>("m"));
    }

    private static async Task<Started<IPredictor<ZipMapInput, TOut>>> StartTypedAsync<TOut>(byte[] bytes, bool remove)
    {
        var provider = await LibraryHarness.StartAsync(s =>
        {
            s.AddFakeLogging();
            s.AddModel<ZipMapInput, TOut>("m", o =>
            {
                o.Source = ModelSource.FromBytes(bytes);
                o.RemoveZipMap = remove;
            }).UseBatching(b => { b.MaxBatchSize = 8; b.MaxDelay = TimeSpan.FromMilliseconds(5); });
        });
        return new Started<IPredictor<ZipMapInput, TOut>>(provider, provider.GetRequiredKeyedService<IPredictor<ZipMapInput, TOut>>("m"));
    }

    private sealed class Started<T>(ServiceProvider provider, T service) : IAsyncDisposable
    {
        public T Predictor => service;

        public T Runner => service;

        public IReadOnlyList<FakeLogRecord> Logs => provider.GetFakeLogCollector().GetSnapshot();

        public ValueTask DisposeAsync() => provider.DisposeAsync();
    }
}
