using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Batching;
using ModelInService.Schema;
using ModelInService.Hosting;
using Xunit.Abstractions;

namespace ModelInService.Tests.Schema;

/// <summary>
/// The exporter-convention corpus (samples/models/conv_*.onnx): for each model, the batching decision the library takes
/// and outputs equal to a direct ONNX Runtime run, batched (batcher and PredictBatchAsync) and not.
/// </summary>
public sealed class ExporterConventionTests(ITestOutputHelper output)
{
    public sealed class TfIn { [ModelInput("input")] public float[] X { get; set; } = []; }

    public sealed class TfOut { [ModelOutput("output")] public float[] Y { get; set; } = []; }

    public sealed class PaddleIn { [ModelInput("x")] public float[] X { get; set; } = []; }

    public sealed class PaddleOut { [ModelOutput("save_infer_model/scale_0.tmp_0")] public float[] Y { get; set; } = []; }

    public sealed class SklIn { [ModelInput("float_input")] public float[] X { get; set; } = []; }

    public sealed class SklOut { [ModelOutput("variable")] public float[] Y { get; set; } = []; }

    public sealed class StateIn
    {
        public float[] X { get; set; } = [];

        /// <summary>This row's slice of state [2,N,3]: a [2,3] row, flat.</summary>
        public float[] State { get; set; } = [];
    }

    public sealed class StateOut
    {
        public float[] Y { get; set; } = [];

        [ModelOutput("state_out")]
        public float[,] StateOutput { get; set; } = new float[0, 0];
    }

    public sealed class StateFlatOut
    {
        [ModelOutput("state_out")]
        public float[] StateOutput { get; set; } = [];
    }

    public sealed class RateIn
    {
        public float[] X { get; set; } = [];

        public long Sr { get; set; }
    }

    public sealed class RateOut { public float[] Y { get; set; } = []; }

    [ModelSchema]
    public sealed class ImageIn { public float[,,] X { get; set; } = new float[0, 0, 0]; }

    [ModelSchema]
    public sealed class ImageOut { public float[,,] Y { get; set; } = new float[0, 0, 0]; }

    public sealed class FlatImageIn { public float[] X { get; set; } = []; }

    public sealed class TotalsOut
    {
        public float[] Y { get; set; } = [];

        public float[] Totals { get; set; } = [];
    }

    public sealed class YOut { public float[] Y { get; set; } = []; }

    public sealed class FlatIn { public float[] X { get; set; } = []; }

    public sealed class FlatOut { public float[] Flat { get; set; } = []; }

    public sealed class FlatScalarOut { public float Flat { get; set; } }

    private static float[] Row(int i, int n) => Enumerable.Range(0, n).Select(k => (0.25f * i) - (0.5f * k)).ToArray();

    private static async Task<IHost> StartAsync<TIn, TOut>(string file, Action<ModelOptions>? configure = null, Action<BatchingOptions>? batching = null, ILoggerProvider? logger = null)
        where TIn : class
        where TOut : class
    {
        var builder = TestModels.CreateBuilder();
        if (logger is not null)
        {
            builder.Logging.AddProvider(logger);
        }

        var model = builder.Services.AddModel<TIn, TOut>("m", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.Path(file));
            configure?.Invoke(o);
        });
        if (batching is not null)
        {
            model.UseBatching(batching);
        }

        var host = builder.Build();
        try
        {
            await host.StartAsync();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="file"/> directly in ONNX Runtime: one float input (plus extra feeds) in, the named float output back.</summary>
    private static float[] Direct(string file, string outputName, params (string Name, Array Data, long[] Shape)[] inputs)
    {
        using var session = new InferenceSession(TestModels.Path(file));
        var values = new List<OrtValue>();
        try
        {
            foreach (var (_, data, shape) in inputs)
            {
                values.Add(data switch
                {
                    float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
                    long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
                    _ => throw new ArgumentException("float or long"),
                });
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, [outputName]);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static ModelBatchingInfo Batching(IHost host) => host.Services.GetRequiredKeyedService<IModelManager>("m").Signature.Batching;

    private static BatcherStatistics Stats(IHost host) => host.Services.GetRequiredService<ModelRegistry>().Get("m").Features.Batcher!.Statistics;

    // ---- defect 1: a free first dimension is the batch whatever its symbol ----

    [Fact]
    public async Task Tf2Onnx_DifferentUnkSymbols_IsBatchable_AndBatchesForm()
    {
        // Regression (defect 1): the symbols differ (unk__6 in, unk__7 out); the old rule made this model unbatchable.
        using var host = await StartAsync<TfIn, TfOut>("conv_tf2onnx.onnx", batching: b => { b.MaxBatchSize = 16; b.MaxDelay = TimeSpan.FromMilliseconds(50); b.DispatchWhenIdle = false; });
        var batching = Batching(host);
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(0, batching.Find("input")!.Axis);
        Assert.Equal(0, batching.Find("output", isInput: false)!.Axis);

        var predictor = host.Services.GetRequiredService<IPredictor<TfIn, TfOut>>();
        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            await Task.Yield();
            return (i, (await predictor.PredictAsync(new TfIn { X = Row(i, 4) })).Y);
        }));

        foreach (var (i, y) in results)
        {
            Assert.Equal(Direct("conv_tf2onnx.onnx", "output", ("input", Row(i, 4), [1, 4])), y);
        }

        Assert.True(Stats(host).LargestBatch > 1, "concurrent requests should share batches");
    }

    [Theory]
    [InlineData("conv_tf2onnx.onnx")]
    [InlineData("conv_torch_dynamic_axes.onnx")]
    public async Task NamedBatchSymbols_PredictBatchAsync_RunsFewTimes_AndMatchesOrt(string file)
    {
        const int rows = 20_000;
        var inputs = Enumerable.Range(0, rows).Select(i => new TfIn { X = Row(i % 97, 4) }).ToArray();
        var flat = inputs.SelectMany(i => i.X).ToArray();
        var expected = Direct(file, "output", ("input", flat, [rows, 4]));

        double batchedMs, perRowMs;
        using (var host = await StartAsync<TfIn, TfOut>(file))
        {
            var predictor = host.Services.GetRequiredService<IPredictor<TfIn, TfOut>>();
            Assert.True(Batching(host).Batchable);
            await predictor.PredictBatchAsync(inputs[..512]);
            var watch = Stopwatch.StartNew();
            var results = await predictor.PredictBatchAsync(inputs);
            batchedMs = watch.Elapsed.TotalMilliseconds;
            Assert.Equal(expected, results.SelectMany(r => r.Y).ToArray());
        }

        // The same model made non-batchable by declaring that the output has no batch axis: one run per row (the old behaviour).
        using (var host = await StartAsync<TfIn, TfOut>(file, o => o.BatchAxes["output"] = -1))
        {
            var predictor = host.Services.GetRequiredService<IPredictor<TfIn, TfOut>>();
            Assert.False(Batching(host).Batchable);
            await predictor.PredictBatchAsync(inputs[..512]);
            var watch = Stopwatch.StartNew();
            var results = await predictor.PredictBatchAsync(inputs);
            perRowMs = watch.Elapsed.TotalMilliseconds;
            Assert.Equal(expected, results.SelectMany(r => r.Y).ToArray());
        }

        output.WriteLine($"{file}: PredictBatchAsync of {rows} rows: batched {batchedMs:F1} ms ({(rows + 255) / 256} runs), one run per row {perRowMs:F1} ms ({rows} runs)");
    }

    [Fact]
    public async Task Paddle2Onnx_Names_AreBatchable_AndMatchOrt()
    {
        using var host = await StartAsync<PaddleIn, PaddleOut>("conv_paddle2onnx.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<PaddleIn, PaddleOut>>();
        Assert.True(Batching(host).Batchable, Batching(host).ToString());
        var inputs = Enumerable.Range(0, 5).Select(i => new PaddleIn { X = Row(i, 4) }).ToArray();
        var batched = await predictor.PredictBatchAsync(inputs);
        var single = await predictor.PredictAsync(inputs[3]);
        Assert.Equal(Direct("conv_paddle2onnx.onnx", "save_infer_model/scale_0.tmp_0", ("x", inputs.SelectMany(i => i.X).ToArray(), [5, 4])), batched.SelectMany(r => r.Y).ToArray());
        Assert.Equal(batched[3].Y, single.Y);
    }

    [Fact]
    public async Task Skl2Onnx_UnnamedBatch_IsBatchable_AndMatchesOrt()
    {
        using var host = await StartAsync<SklIn, SklOut>("conv_skl2onnx.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<SklIn, SklOut>>();
        Assert.True(Batching(host).Batchable, Batching(host).ToString());
        Assert.Equal(-1, host.Services.GetRequiredKeyedService<IModelManager>("m").Signature.Inputs[0].Dimensions[0]);
        Assert.Equal("", host.Services.GetRequiredKeyedService<IModelManager>("m").Signature.Inputs[0].SymbolicDimensions[0]);
        var inputs = Enumerable.Range(0, 4).Select(i => new SklIn { X = Row(i, 4) }).ToArray();
        var batched = await predictor.PredictBatchAsync(inputs);
        Assert.Equal(Direct("conv_skl2onnx.onnx", "variable", ("float_input", inputs.SelectMany(i => i.X).ToArray(), [4, 4])), batched.SelectMany(r => r.Y).ToArray());
        Assert.Equal(batched[2].Y, (await predictor.PredictAsync(inputs[2])).Y);
    }

    [Fact]
    public async Task FixedBatchOne_IsNotBatchable_NamingTheTensorAndDimension()
    {
        using var host = await StartAsync<IrisInput, IrisOutput>("iris_mlp_fixed.onnx");
        var batching = Batching(host);
        Assert.False(batching.Batchable);
        Assert.Contains("input 'features' [1,4] has a fixed first dimension (1)", batching.Reason);
        Assert.Contains("BatchAxes[\"features\"]", batching.Reason);
    }

    [Fact]
    public async Task UseBatching_OnANonBatchableModel_WarnsOnce_AndRequireBatchingFailsStart()
    {
        var collector = new FakeLogCollector();
        using (var host = await StartAsync<IrisInput, IrisOutput>("iris_mlp_fixed.onnx", batching: _ => { }, logger: new FakeLoggerProvider(collector)))
        {
            var warning = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ModelNotBatchable");
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains("fixed first dimension", warning.Message);
            var ready = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ModelLoaded");
            Assert.Contains("batching: not batchable (no input has a batch axis", ready.Message);
            await host.Services.GetRequiredKeyedService<IModelManager>("m").ReloadAsync();
            Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ModelNotBatchable");
        }

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<IrisInput, IrisOutput>("iris_mlp_fixed.onnx", batching: b => b.RequireBatching = true));
        Assert.Contains("RequireBatching", ex.Message);
        Assert.Contains("input 'features' [1,4] has a fixed first dimension (1)", ex.Message);
    }

    [Fact]
    public async Task ReadyLogLine_ListsBatchAxes()
    {
        var collector = new FakeLogCollector();
        using var host = await StartAsync<TfIn, TfOut>("conv_tf2onnx.onnx", logger: new FakeLoggerProvider(collector));
        var ready = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ModelLoaded");
        Assert.Contains("batching: batchable; input 'input' float32 [unk__6,4]: batch axis 0; output 'output' float32 [unk__7,4]: batch axis 0", ready.Message);
    }

    // ---- defect 2: batch on axis 1, per-run inputs ----

    [Fact]
    public async Task BatchOnAxis1_WithoutOverride_IsNotBatchable_NamingTheOptionToSet()
    {
        // Without a batch axis the whole state [2,?,3] is one row: a flat array (or float[,,]) member.
        using var host = await StartAsync<StateIn, StateFlatOut>("conv_batch_axis1.onnx");
        var batching = Batching(host);
        Assert.False(batching.Batchable);
        Assert.Contains("input 'state' [2,unk__1,3] has a free dimension 1 but no batch axis was found; set ModelOptions.BatchAxes[\"state\"] = 1", batching.Reason);

        // Unbatched it still answers, each row with its own state.
        var predictor = host.Services.GetRequiredService<IPredictor<StateIn, StateFlatOut>>();
        var result = await predictor.PredictAsync(new StateIn { X = Row(1, 4), State = Row(2, 6) });
        Assert.Equal(Row(2, 6).Select(v => v * 2).ToArray(), result.StateOutput);
    }

    [Fact]
    public async Task BatchOnAxis1_WithOverride_BatchesAndGivesEachRowItsStateSlice()
    {
        // Regression (defect 2): per-tensor batch axes did not exist; state [2,N,3] could not be batched.
        using var host = await StartAsync<StateIn, StateOut>("conv_batch_axis1.onnx", o => { o.BatchAxes["state"] = 1; o.BatchAxes["state_out"] = 1; });
        var predictor = host.Services.GetRequiredService<IPredictor<StateIn, StateOut>>();
        var batching = Batching(host);
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(1, batching.Find("state")!.Axis);

        const int n = 5;
        var inputs = Enumerable.Range(0, n).Select(i => new StateIn { X = Row(i, 4), State = Row(10 + i, 6) }).ToArray();
        var results = await predictor.PredictBatchAsync(inputs);

        // Direct: stack the states on axis 1 -> [2,N,3].
        var state = new float[2 * n * 3];
        for (var r = 0; r < n; r++)
        {
            for (var o = 0; o < 2; o++)
            {
                Array.Copy(inputs[r].State, o * 3, state, ((o * n) + r) * 3, 3);
            }
        }

        var direct = Direct("conv_batch_axis1.onnx", "state_out", ("x", inputs.SelectMany(i => i.X).ToArray(), [n, 4]), ("state", state, [2, n, 3]));
        for (var r = 0; r < n; r++)
        {
            var expected = new float[6];
            for (var o = 0; o < 2; o++)
            {
                Array.Copy(direct, ((o * n) + r) * 3, expected, o * 3, 3);
            }

            Assert.Equal(expected, Flatten(results[r].StateOutput));
            Assert.Equal(2, results[r].StateOutput.GetLength(0));
            Assert.Equal(inputs[r].X.Select(v => v + 1).ToArray(), results[r].Y);
            Assert.Equal(Flatten((await predictor.PredictAsync(inputs[r])).StateOutput), Flatten(results[r].StateOutput));
        }
    }

    [Fact]
    public async Task PerRunScalar_IsBucketedByValue_RowsWithDifferentValuesNeverShareARun()
    {
        using var host = await StartAsync<RateIn, RateOut>("conv_per_run_scalar.onnx", batching: b => { b.MaxBatchSize = 32; b.MaxDelay = TimeSpan.FromMilliseconds(50); b.DispatchWhenIdle = false; });
        var predictor = host.Services.GetRequiredService<IPredictor<RateIn, RateOut>>();
        var batching = Batching(host);
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(BatchBucketKind.Value, batching.Find("sr")!.Bucket);
        Assert.Equal(-1, batching.Find("sr")!.Axis);

        var inputs = Enumerable.Range(0, 40).Select(i => new RateIn { X = Row(i, 3), Sr = i % 2 == 0 ? 8000 : 16000 }).ToArray();
        var viaBatcher = await Task.WhenAll(inputs.Select(async i => { await Task.Yield(); return await predictor.PredictAsync(i); }));
        var viaBatch = await predictor.PredictBatchAsync(inputs);
        for (var i = 0; i < inputs.Length; i++)
        {
            var expected = Direct("conv_per_run_scalar.onnx", "y", ("x", inputs[i].X, [1, 3]), ("sr", new[] { inputs[i].Sr }, []));
            Assert.Equal(expected, viaBatcher[i].Y);
            Assert.Equal(expected, viaBatch[i].Y);
        }

        Assert.True(Stats(host).LargestBatch > 1);
    }

    [Fact]
    public void PerRunScalar_PackRefusesRowsThatDisagree()
    {
        var spec = new TensorSpec("sr", ModelValueKind.Tensor, ModelElementType.Int64, [], []);
        var members = MemberModel.ForInput(typeof(RateIn)).Where(m => m.Member.Name == "Sr").ToList();
        var binder = new NumericInputBinder<RateIn, long>("m", spec, new RowShape(spec, -1), members, new ModelOptions());
        RateIn[] rows = [new() { Sr = 8000 }, new() { Sr = 16000 }];

        var ex = Assert.Throws<ModelInputException>(() => binder.Pack(rows));
        Assert.Contains("no batch axis (one value per run)", ex.Message);
        Assert.NotEqual(binder.RowBucket(rows[0]), binder.RowBucket(rows[1]));
    }

    [Fact]
    public async Task Options_UnknownTensorOrFixedAxis_FailStartNamingTheOption()
    {
        var unknown = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<RateIn, RateOut>("conv_per_run_scalar.onnx", o => o.BatchAxes["nope"] = 0));
        Assert.Contains("ModelOptions.BatchAxes names 'nope'", unknown.Message);
        var fixedAxis = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<RateIn, RateOut>("conv_per_run_scalar.onnx", o => o.BatchAxes["x"] = 1));
        Assert.Contains("dimension 1 of input 'x' [N,3] is fixed at 3", fixedAxis.Message);
        var tooFar = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<RateIn, RateOut>("conv_per_run_scalar.onnx", o => o.BatchAxis = 0));
        Assert.Contains("input 'sr' [] has 0 dimensions", tooFar.Message);
        var negative = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<RateIn, RateOut>("conv_per_run_scalar.onnx", o => o.BatchAxes["x"] = -2));
        Assert.Contains("BatchAxes[\"x\"] is -2", negative.Message);
    }

    // ---- defect 3: two free dimensions per row ----

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

    private static float[] Flatten(Array array) => array.Cast<float>().ToArray();

    [Fact]
    public async Task TwoFreeDimensions_RectangularMembers_BucketByShape_AndMatchOrt()
    {
        // Regression (defect 3): a row [2,H,W] with two free dimensions could not be bound at all.
        using var host = await StartAsync<ImageIn, ImageOut>("conv_two_free_dims.onnx", batching: b => { b.MaxBatchSize = 32; b.MaxDelay = TimeSpan.FromMilliseconds(50); b.DispatchWhenIdle = false; });
        var predictor = host.Services.GetRequiredService<IPredictor<ImageIn, ImageOut>>();
        var batching = Batching(host);
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(BatchBucketKind.Shape, batching.Find("x")!.Bucket);

        var shapes = new[] { (3, 4), (5, 2), (3, 4), (1, 7) };
        var inputs = Enumerable.Range(0, 24).Select(i => new ImageIn { X = Image(shapes[i % 4].Item1, shapes[i % 4].Item2, i) }).ToArray();
        var viaBatcher = await Task.WhenAll(inputs.Select(async i => { await Task.Yield(); return await predictor.PredictAsync(i); }));
        var viaBatch = await predictor.PredictBatchAsync(inputs);
        for (var i = 0; i < inputs.Length; i++)
        {
            var (h, w) = shapes[i % 4];
            var expected = Direct("conv_two_free_dims.onnx", "y", ("x", Flatten(inputs[i].X), [1, 2, h, w]));
            Assert.Equal([1, h, w], new[] { viaBatch[i].Y.GetLength(0), viaBatch[i].Y.GetLength(1), viaBatch[i].Y.GetLength(2) });
            Assert.Equal(expected, Flatten(viaBatch[i].Y));
            Assert.Equal(expected, Flatten(viaBatcher[i].Y));
        }

        Assert.True(Stats(host).LargestBatch > 1);
    }

    [Fact]
    public async Task TwoFreeDimensions_FlatArrayMember_FailsStartNamingTheRectangularType()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync<FlatImageIn, ImageOut>("conv_two_free_dims.onnx"));
        Assert.Contains("a row of [2,?,?] with 2 free dimensions", ex.Message);
        Assert.Contains("float[,,]", ex.Message);
    }

    [Fact]
    public async Task TwoFreeDimensions_WrongFixedDimension_IsRejectedAsInput()
    {
        using var host = await StartAsync<ImageIn, ImageOut>("conv_two_free_dims.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<ImageIn, ImageOut>>();
        var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new ImageIn { X = new float[3, 2, 2] }));
        Assert.Contains("length 3 in dimension 0", ex.Message);
    }

    // ---- outputs whose first dimension is not the batch ----

    [Fact]
    public async Task FixedOutputNotPerRow_MakesTheModelNonBatchable_OnlyWhenBound()
    {
        using (var host = await StartAsync<FlatIn, TotalsOut>("conv_output_not_batch.onnx"))
        {
            var predictor = host.Services.GetRequiredService<IPredictor<FlatIn, TotalsOut>>();
            var batching = Batching(host);
            Assert.False(batching.Batchable);
            Assert.Contains("output 'totals' has no batch axis: output 'totals' [3] has a fixed first dimension (3)", batching.Reason);
            var inputs = Enumerable.Range(0, 3).Select(i => new FlatIn { X = Row(i, 3) }).ToArray();
            var results = await predictor.PredictBatchAsync(inputs);
            for (var i = 0; i < inputs.Length; i++)
            {
                Assert.Equal(Direct("conv_output_not_batch.onnx", "totals", ("x", inputs[i].X, [1, 3])), results[i].Totals);
                Assert.Equal(Direct("conv_output_not_batch.onnx", "y", ("x", inputs[i].X, [1, 3])), results[i].Y);
            }
        }

        using (var host = await StartAsync<FlatIn, YOut>("conv_output_not_batch.onnx"))
        {
            Assert.True(Batching(host).Batchable);
        }
    }

    [Fact]
    public async Task FreeOutputThatIsNotTheBatch_FailsTheBatchClearly_BisectionIsolates_AndTheOverrideFixesIt()
    {
        using (var host = await StartAsync<FlatIn, FlatOut>("conv_output_flattened.onnx", batching: b => { b.MaxBatchSize = 8; b.MaxDelay = TimeSpan.FromMilliseconds(50); b.DispatchWhenIdle = false; }))
        {
            var predictor = host.Services.GetRequiredService<IPredictor<FlatIn, FlatOut>>();
            Assert.True(Batching(host).Batchable); // A free first dimension is trusted; the row count is checked at unpack.
            var inputs = Enumerable.Range(0, 8).Select(i => new FlatIn { X = Row(i, 2) }).ToArray();
            var ex = await Assert.ThrowsAsync<ModelInferenceException>(async () => await predictor.PredictBatchAsync(inputs));
            Assert.Contains("has 16 rows on its batch axis 0 for 8 input rows", ex.Message);
            Assert.Contains("BatchAxes[\"flat\"]", ex.Message);

            var results = await Task.WhenAll(inputs.Select(async i => { await Task.Yield(); return await predictor.PredictAsync(i); }));
            for (var i = 0; i < inputs.Length; i++)
            {
                Assert.Equal(inputs[i].X, results[i].Flat);
            }

            Assert.True(Stats(host).PoisonSplits > 0, "the failed batch should have been bisected");
        }

        using (var host = await StartAsync<FlatIn, FlatOut>("conv_output_flattened.onnx", o => o.BatchAxes["flat"] = -1))
        {
            var predictor = host.Services.GetRequiredService<IPredictor<FlatIn, FlatOut>>();
            Assert.False(Batching(host).Batchable);
            var inputs = Enumerable.Range(0, 4).Select(i => new FlatIn { X = Row(i, 2) }).ToArray();
            var results = await predictor.PredictBatchAsync(inputs);
            for (var i = 0; i < inputs.Length; i++)
            {
                Assert.Equal(inputs[i].X, results[i].Flat);
            }
        }
    }

    [Fact]
    public async Task ScalarMemberOnAnOutputThatIsNotPerRow_SaysBothWaysOut()
    {
        // The error used to stop at "2 elements per row, but 1 scalar member is bound to it", leaving the user to
        // guess whether the member or the batch axis was wrong.
        using var host = await StartAsync<FlatIn, FlatScalarOut>("conv_output_flattened.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<FlatIn, FlatScalarOut>>();
        var ex = await Assert.ThrowsAsync<ModelInferenceException>(async () => await predictor.PredictAsync(new FlatIn { X = Row(1, 2) }));
        Assert.Contains("2 elements per row, but 1 scalar member is bound to it", ex.Message);
        Assert.Contains("bind a float[] member instead", ex.Message);
        Assert.Contains("BatchAxes[\"flat\"] = -1", ex.Message);
    }
}
