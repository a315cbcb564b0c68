using System.Collections;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Hosting;
using ModelInService.Monitoring;
using ModelInService.Schema;
using ModelInService.Tests.Monitoring;
using static ModelInService.Tests.Schema.ElementTypeAndShapeTests;

namespace ModelInService.Tests.Schema;

/// <summary>
/// The accessors the source generator emits for [ModelSchema] types against the reflected (expression tree) path, on
/// every schema shape of the suite: each runs the same rows through a real model twice, once with the generated
/// delegates and once with <see cref="SchemaAccessors.ForceReflection"/>, and compares predictions (batched and
/// single), cache keys, cached copies and the monitor's recorded rows. A counter proves which path each run took.
/// </summary>
public sealed class GeneratedAccessorTests
{
    [Fact]
    public async Task ArraysAndScalars_Iris() => await CompareAsync<IrisInput, IrisOutput>(
        TestModels.IrisMlp,
        [new() { Features = IrisSamples.Setosa }, new() { Features = IrisSamples.Versicolor }, new() { Features = IrisSamples.Virginica }],
        outputs => Assert.Equal([0L, 1, 2], outputs.Select(o => o.Label)));

    [Fact]
    public async Task ScalarColumnsAndPositionalRecords_Iris() => await CompareAsync<IrisFeatures, IrisScores>(
        TestModels.IrisMlp,
        [new(5.1f, 3.5f, 1.4f, 0.2f), new(6.7f, 3.0f, 5.2f, 2.3f)],
        outputs =>
        {
            Assert.Equal([0L, 2], outputs.Select(o => o.Label));
            Assert.True(outputs[0].Setosa > 0.5f);
        });

    [Fact]
    public async Task EveryElementTypeAndStrings_MultiInput() => await CompareAsync<MultiIn, MultiOut>(
        TestModels.MultiInput,
        [
            new() { F32 = [1.5f, 2, 3], F64 = [0.25, 4], I32 = 7, I64 = [10, 20], U8 = [0, 1, 200, 255], Flag = true, Text = "héllo wörld" },
            new() { F32 = [0, 0, 1], F64 = [1, 1], I32 = -3, I64 = [1, 2], U8 = [9, 9, 9, 9], Flag = false, Text = "" },
        ],
        outputs =>
        {
            Assert.Equal("héllo wörld", outputs[0].Text);
            Assert.Equal(8, outputs[0].I32);
        });

    [Fact]
    public async Task ZipMapDictionary_IrisZipMap() => await CompareAsync<ZipIn, ZipOut>(
        TestModels.IrisZipMap,
        [new() { Features = IrisSamples.Setosa }, new() { Features = IrisSamples.Virginica }],
        outputs => Assert.Equal(3, outputs[1].Probabilities.Count));

    [Fact]
    public async Task ZipMapAsArray_IrisZipMap() => await CompareAsync<ZipIn, ZipArrayOut>(
        TestModels.IrisZipMap,
        [new() { Features = IrisSamples.Versicolor }],
        outputs => Assert.Equal(3, outputs[0].Probabilities.Length));

    [Fact]
    public async Task FreeDimension_VariableLength() => await CompareAsync<TextIn, TextOut>(
        TestModels.VariableLength,
        [new() { Bytes = [0, 255] }, new() { Bytes = [255, 0] }, new() { Bytes = [1, 2, 3] }],
        outputs => Assert.Equal([0f, 1f, 1f, 0f], outputs[0].Scores));

    [Fact]
    public async Task MultiDimensionalRows_TwoFreeDimensions() => await CompareAsync<ExporterConventionTests.ImageIn, ExporterConventionTests.ImageOut>(
        TestModels.Path("conv_two_free_dims.onnx"),
        [new() { X = Image(3, 4, 1) }, new() { X = Image(2, 5, 2) }],
        outputs => Assert.Equal(3, outputs[0].Y.GetLength(1)));

    [Fact]
    public void EveryMarkedTestType_HasARegisteredTable()
    {
        var marked = typeof(GeneratedAccessorTests).Assembly.GetTypes().Where(t => t.IsDefined(typeof(ModelSchemaAttribute), false)).ToList();

        Assert.True(marked.Count >= 15, $"{marked.Count} [ModelSchema] types");
        Assert.All(marked, t => Assert.NotNull(SchemaAccessors.Find(t)));
        Assert.Null(SchemaAccessors.Find(typeof(GeneratedAccessorTests)));
    }

    [Fact]
    public void InitOnlyMembersAndThePositionalConstructor_AreReachedWithoutReflection()
    {
        var table = SchemaAccessors.Find(typeof(OutputCopierTests.Positional))!;
        var create = (Func<OutputCopierTests.Positional>)table.Factory!;
        var value = create();
        ((Action<OutputCopierTests.Positional, long>)table.Setters["Label"])(value, 42);
        ((Action<OutputCopierTests.Positional, string>)table.Setters["Text"])(value, "set");

        Assert.Equal(new OutputCopierTests.Positional(42, 0, "set"), value);
        Assert.Equal(42L, ((Func<OutputCopierTests.Positional, long>)table.Getters["Label"])(value));

        // The same member through MemberModel (what the binders call) is the registered delegate, not a compiled one.
        var member = MemberModel.ForOutput(typeof(OutputCopierTests.Positional)).Single(m => m.Member.Name == "Score");
        Assert.Same(table.Setters["Score"], member.CompileSetter<OutputCopierTests.Positional, float>());
    }

    [Fact]
    public void RectangularAndDictionarySetters_TakeTheValuesTheBindersProduce()
    {
        var image = SchemaAccessors.Find(typeof(ExporterConventionTests.ImageOut))!;
        var output = new ExporterConventionTests.ImageOut();
        var array = new float[1, 2, 3];
        ((Action<ExporterConventionTests.ImageOut, Array>)image.Setters["Y"])(output, array);
        Assert.Same(array, output.Y);

        var zip = SchemaAccessors.Find(typeof(ZipOut))!;
        var dictionary = new Dictionary<long, float> { [1] = 0.5f };
        var zipOut = new ZipOut();
        ((Action<ZipOut, Dictionary<long, float>>)zip.Setters["Probabilities"])(zipOut, dictionary);
        Assert.Same(dictionary, zipOut.Probabilities);
    }

    private static async Task CompareAsync<TIn, TOut>(string model, TIn[] inputs, Action<TOut[]> check)
    {
        var generated = await RunAsync<TIn, TOut>(model, inputs, reflect: false);
        var reflected = await RunAsync<TIn, TOut>(model, inputs, reflect: true);

        check(generated.Outputs);
        Assert.True(generated.Counter.Generated > 0 && generated.Counter.Reflected == 0, $"generated run: {generated.Counter.Generated} generated, {generated.Counter.Reflected} reflected");
        Assert.True(reflected.Counter.Generated == 0 && reflected.Counter.Reflected > 0, $"reflected run: {reflected.Counter.Generated} generated, {reflected.Counter.Reflected} reflected");
        Assert.Equal(reflected.Batch, generated.Batch);
        Assert.Equal(generated.Batch, generated.Single);
        Assert.Equal(reflected.Single, generated.Single);
        Assert.Equal(reflected.Keys, generated.Keys);
        Assert.Equal(reflected.Clones, generated.Clones);
        Assert.Equal(generated.Batch, generated.Clones);
        Assert.Equal(reflected.Sizes, generated.Sizes);
        Assert.Equal(reflected.Recorded, generated.Recorded);
        Assert.NotEmpty(generated.Recorded);
    }

    private static async Task<RunResult<TOut>> RunAsync<TIn, TOut>(string model, TIn[] inputs, bool reflect)
    {
        // Both AsyncLocal: they hold for this run's model load and recorder construction only.
        SchemaAccessors.ForceReflection = reflect;
        var counter = SchemaAccessors.Count();
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<TIn, TOut>(model));
        var predictor = sp.GetRequiredService<IPredictor<TIn, TOut>>();
        var batch = await predictor.PredictBatchAsync(inputs);
        var single = new List<TOut>();
        foreach (var input in inputs)
        {
            single.Add(await predictor.PredictAsync(input));
        }

        var binder = (TypedBinder<TIn, TOut>)sp.GetRequiredService<ModelRegistry>().Get(System.IO.Path.GetFileNameWithoutExtension(model)).Runtime.Binder!;
        var clones = batch.Select(binder.Copier.Clone).ToArray();
        Assert.All(batch.Zip(clones), pair => Assert.True(binder.Copier.Agrees(pair.First, pair.Second)));

        var recorder = PredictionRecorder<TIn, TOut>.Create(new MonitoringOptions(), new FakeTimeProvider(MonitorHarness.Start));
        var block = new RecordBlock(RecorderBase.BlockNumbers, 64);
        for (var i = 0; i < inputs.Length; i++)
        {
            recorder.EncodeInto(block, inputs[i], batch[i]);
        }

        var recorded = string.Join(";", block.Numbers.Take(block.NumberCount).Select(d => d.ToString("R", CultureInfo.InvariantCulture)))
            + "|" + string.Join(";", block.Labels.Take(block.LabelCount));
        return new RunResult<TOut>(
            [.. batch],
            Show(batch.ToArray()),
            Show(single.ToArray()),
            inputs.Select(i => binder.ComputeKey(i, 7)).ToArray(),
            Show(clones),
            batch.Select(binder.Copier.EstimateSize).ToArray(),
            block.NumberCount + block.LabelCount == 0 ? "" : recorded,
            counter);
    }

    private static float[,,] Image(int h, int w, int seed)
    {
        var image = new float[2, h, w];
        for (var c = 0; c < 2; c++)
        {
            for (var y = 0; y < h; y++)
            {
                for (var x = 0; x < w; x++)
                {
                    image[c, y, x] = (seed * 0.5f) + c - (0.25f * y) + (0.125f * x);
                }
            }
        }

        return image;
    }

    /// <summary>Every public property, element and entry, so two outputs compare by content (rectangular arrays included).</summary>
    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IDictionary d => "{" + string.Join(",", d.Keys.Cast<object>().OrderBy(k => k.ToString(), StringComparer.Ordinal).Select(k => Show(k) + ":" + Show(d[k]))) + "}",
        // Read-only map members get the library's shared-keys map (not an IDictionary): shown the same way by content.
        IReadOnlyDictionary<long, float> m => "{" + string.Join(",", m.OrderBy(p => p.Key.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal).Select(p => Show(p.Key) + ":" + Show(p.Value))) + "}",
        IReadOnlyDictionary<string, float> m => "{" + string.Join(",", m.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Show(p.Key) + ":" + Show(p.Value))) + "}",
        Array a => "[" + string.Join("x", Enumerable.Range(0, a.Rank).Select(a.GetLength)) + ":" + string.Join(",", a.Cast<object?>().Select(Show)) + "]",
        IEnumerable e when value is not IFormattable => "(" + string.Join(";", e.Cast<object?>().Select(Show)) + ")",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.GetType().Name + "{" + string.Join(",", value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0).OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name + "=" + Show(p.GetValue(value)))) + "}",
    };

    private sealed record RunResult<TOut>(TOut[] Outputs, string Batch, string Single, UInt128[] Keys, string Clones, long[] Sizes, string Recorded, SchemaAccessors.UseCounter Counter);
}
