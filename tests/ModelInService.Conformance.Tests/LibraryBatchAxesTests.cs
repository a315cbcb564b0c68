using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>Silero VAD v5: input [N,?], state [2,N,128] (batch on axis 1), sr int64 scalar (one value per run).</summary>
public sealed class VadInput
{
    public float[] Input { get; set; } = [];

    /// <summary>This row's slice of state [2,N,128]: [2,128], flat.</summary>
    public float[] State { get; set; } = [];

    public long Sr { get; set; }
}

/// <summary>Silero VAD v5 outputs: output [N,1], stateN [2,N,128].</summary>
public sealed class VadOutput
{
    public float[] Output { get; set; } = [];

    [ModelOutput("stateN")]
    public float[] State { get; set; } = [];
}

/// <summary>Silero VAD v5 outputs as `mis scaffold` writes them without declared axes: stateN [?,?,?] read as rows of [?,?].</summary>
public sealed class VadScaffoldedOutput
{
    public float Output { get; set; }

    [ModelOutput("stateN")]
    public float[,] StateN { get; set; } = new float[0, 0];
}

/// <summary>PaddleOCR detection/classification input x [N,3,H,W]: a [3,H,W] image per row.</summary>
public sealed class OcrImage
{
    [ModelInput("x")]
    public float[,,] Pixels { get; set; } = new float[0, 0, 0];
}

/// <summary>PaddleOCR detection output [N,1,H,W].</summary>
public sealed class OcrDetection
{
    [ModelOutput("sigmoid_0.tmp_0")]
    public float[,,] Map { get; set; } = new float[0, 0, 0];
}

/// <summary>PaddleOCR direction classifier output [N,2].</summary>
public sealed class OcrDirection
{
    [ModelOutput("softmax_0.tmp_0")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>PaddleOCR recognition output [N,T,6625].</summary>
public sealed class OcrRecognition
{
    [ModelOutput("softmax_11.tmp_0")]
    public float[,] Probabilities { get; set; } = new float[0, 0];
}

/// <summary>
/// Models with a batch axis that is not first, a per-run scalar, and several free dimensions per row (Silero VAD v5,
/// PaddleOCR det/cls/rec) through <see cref="IPredictor{TInput, TOutput}"/>, unbatched, with <c>PredictBatchAsync</c>
/// and with <c>UseBatching()</c>, each output equal to a direct <see cref="InferenceSession"/> run on the same row.
/// </summary>
public sealed class LibraryBatchAxesTests
{
    private const double Tolerance = 1e-4;

    private static string Vad => SharedData.Model("audio", "silero_vad_v5.onnx");

    private static string Ocr(string file) => SharedData.Model("vision", "paddleocr", file);

    private static async Task<(ServiceProvider Provider, IPredictor<TIn, TOut> Predictor, IModelManager Manager)> StartAsync<TIn, TOut>(string path, Action<ModelOptions>? configure = null, bool batching = false)
    {
        var provider = await LibraryHarness.StartAsync(s =>
        {
            var model = s.AddModel<TIn, TOut>("m", o =>
            {
                o.Source = ModelSource.FromFile(path);
                configure?.Invoke(o);
            });
            if (batching)
            {
                model.UseBatching(b => { b.MaxBatchSize = 16; b.MaxDelay = TimeSpan.FromMilliseconds(20); b.DispatchWhenIdle = false; });
            }
        });
        return (provider, provider.GetRequiredKeyedService<IPredictor<TIn, TOut>>("m"), provider.GetRequiredKeyedService<IModelManager>("m"));
    }

    /// <summary>One direct run: the named inputs (float or long arrays with shapes) in, the named float outputs back.</summary>
    private static float[][] Direct(string path, string[] outputs, params (string Name, Array Data, long[] Shape)[] inputs)
    {
        using var session = new InferenceSession(path);
        var values = inputs.Select(i => i.Data switch
        {
            float[] f => OrtValue.CreateTensorValueFromMemory(f, i.Shape),
            long[] l => OrtValue.CreateTensorValueFromMemory(l, i.Shape),
            _ => throw new ArgumentException("float or long"),
        }).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, outputs);
            return results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray();
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static float[] Flat(Array array) => array.Cast<float>().ToArray();

    private static Task<T[]> Concurrently<T>(int count, Func<int, Task<T>> call) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await Task.Yield();
            return await call(i);
        }));

    // ---- Silero VAD v5 ----

    /// <summary>A 32 ms chunk: 512 samples at 16 kHz, 256 at 8 kHz (the sizes the model takes), with a state of its own.</summary>
    private static VadInput VadRow(int i)
    {
        var sr = i % 3 == 2 ? 8000 : 16000;
        return new()
        {
            Input = Enumerable.Range(0, sr == 8000 ? 256 : 512).Select(k => 0.3f * MathF.Sin((0.01f + (0.003f * i)) * k)).ToArray(),
            State = Enumerable.Range(0, 256).Select(k => 0.05f * MathF.Cos(k + i)).ToArray(),
            Sr = sr,
        };
    }

    private static (float[] Output, float[] State) VadDirect(VadInput row)
    {
        var r = Direct(Vad, ["output", "stateN"], ("input", row.Input, [1, row.Input.Length]), ("state", row.State, [2, 1, 128]), ("sr", new[] { row.Sr }, []));
        return (r[0], r[1]);
    }

    [SkippableFact]
    public async Task Silero_without_declared_axes_is_not_batchable_and_says_which_option_to_set()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor, manager) = await StartAsync<VadInput, VadOutput>(Vad);
        await using var _ = provider;

        var batching = manager.Signature.Batching;
        Assert.False(batching.Batchable);
        Assert.Contains("input 'state' [2,?,128] has a free dimension 1", batching.Reason);
        Assert.Contains("BatchAxes[\"state\"] = 1", batching.Reason);

        // Unbatched, the caller's state goes in and the new state comes back.
        var row = VadRow(1);
        var result = await predictor.PredictAsync(row);
        var (output, state) = VadDirect(row);
        LibraryHarness.AssertClose(output, result.Output, Tolerance, "output");
        LibraryHarness.AssertClose(state, result.State, Tolerance, "stateN");
    }

    [SkippableFact]
    public async Task Silero_without_declared_axes_fills_a_rectangular_state_member_from_a_lone_run()
    {
        // Regression: stateN [?,?,?] gets the automatic batch axis 0, so a scaffolded member is float[,]; a lone run
        // returns [2,1,128], which failed with "more dimensions per row than the 2 of the bound member".
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor, _) = await StartAsync<VadInput, VadScaffoldedOutput>(Vad);
        await using var _ = provider;

        var row = VadRow(1);
        var result = await predictor.PredictAsync(row);
        var (output, state) = VadDirect(row);
        Assert.Equal([2, 128], new[] { result.StateN.GetLength(0), result.StateN.GetLength(1) });
        LibraryHarness.AssertClose(output, [result.Output], Tolerance, "output");
        LibraryHarness.AssertClose(state, result.StateN.Cast<float>().ToArray(), Tolerance, "stateN");
    }

    [SkippableFact]
    public async Task Silero_with_state_on_axis_1_batches_and_each_row_gets_its_own_state()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        void Axes(ModelOptions o)
        {
            o.BatchAxes["state"] = 1;
            o.BatchAxes["stateN"] = 1;
        }

        var rows = Enumerable.Range(0, 24).Select(VadRow).ToArray();
        var expected = rows.Select(VadDirect).ToArray();

        var (provider, predictor, manager) = await StartAsync<VadInput, VadOutput>(Vad, Axes, batching: true);
        await using var _ = provider;
        var batching = manager.Signature.Batching;
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(BatchBucketKind.Value, batching.Find("sr")!.Bucket);
        Assert.Equal(BatchBucketKind.Length, batching.Find("input")!.Bucket);
        Assert.Equal(1, batching.Find("stateN", isInput: false)!.Axis);

        var viaBatch = await predictor.PredictBatchAsync(rows);
        var viaBatcher = await Concurrently(rows.Length, i => predictor.PredictAsync(rows[i]).AsTask());
        for (var i = 0; i < rows.Length; i++)
        {
            LibraryHarness.AssertClose(expected[i].Output, viaBatch[i].Output, Tolerance, $"row {i} output (PredictBatchAsync)");
            LibraryHarness.AssertClose(expected[i].State, viaBatch[i].State, Tolerance, $"row {i} stateN (PredictBatchAsync)");
            LibraryHarness.AssertClose(expected[i].Output, viaBatcher[i].Output, Tolerance, $"row {i} output (batcher)");
            LibraryHarness.AssertClose(expected[i].State, viaBatcher[i].State, Tolerance, $"row {i} stateN (batcher)");
        }
    }

    // ---- PaddleOCR ----

    private static float[,,] Image(int height, int width, int seed)
    {
        var image = new float[3, height, width];
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    // Dark strokes on a light background, normalised like PaddleOCR ((v - 0.5) / 0.5).
                    var stroke = ((x + (seed * 7)) / 6 % 3 == 0) && (y > height / 4) && (y < 3 * height / 4);
                    image[c, y, x] = (stroke ? -0.8f : 0.9f) + (0.01f * c) + (0.001f * ((x * y) % 13));
                }
            }
        }

        return image;
    }

    private static async Task CheckOcrAsync<TOut>(string file, string outputName, (int H, int W)[] shapes, Func<TOut, Array> read, BatchBucketKind bucket)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var path = Ocr(file);
        var rows = Enumerable.Range(0, 8).Select(i => new OcrImage { Pixels = Image(shapes[i % shapes.Length].H, shapes[i % shapes.Length].W, i) }).ToArray();
        var expected = rows.Select(r => Direct(path, [outputName], ("x", Flat(r.Pixels), [1, 3, r.Pixels.GetLength(1), r.Pixels.GetLength(2)]))[0]).ToArray();

        var (provider, predictor, manager) = await StartAsync<OcrImage, TOut>(path, batching: true);
        await using var _ = provider;
        var batching = manager.Signature.Batching;
        Assert.True(batching.Batchable, batching.ToString());
        Assert.Equal(bucket, batching.Find("x")!.Bucket);

        var single = await predictor.PredictAsync(rows[0]);
        LibraryHarness.AssertClose(expected[0], Flat(read(single)), Tolerance, "unbatched");
        var viaBatch = await predictor.PredictBatchAsync(rows);
        var viaBatcher = await Concurrently(rows.Length, i => predictor.PredictAsync(rows[i]).AsTask());
        for (var i = 0; i < rows.Length; i++)
        {
            LibraryHarness.AssertClose(expected[i], Flat(read(viaBatch[i])), Tolerance, $"row {i} (PredictBatchAsync)");
            LibraryHarness.AssertClose(expected[i], Flat(read(viaBatcher[i])), Tolerance, $"row {i} (batcher)");
        }
    }

    [SkippableFact]
    public Task PaddleOcr_detection_rows_of_several_shapes_match_direct_runs() =>
        CheckOcrAsync<OcrDetection>("ch_PP-OCRv4_det_infer.onnx", "sigmoid_0.tmp_0", [(64, 96), (96, 64)], o => o.Map, BatchBucketKind.Shape);

    [SkippableFact]
    public Task PaddleOcr_direction_classifier_matches_direct_runs() =>
        CheckOcrAsync<OcrDirection>("ch_ppocr_mobile_v2.0_cls_infer.onnx", "softmax_0.tmp_0", [(48, 192), (48, 96)], o => o.Probabilities, BatchBucketKind.Shape);

    [SkippableFact]
    public Task PaddleOcr_recognition_rows_of_several_widths_match_direct_runs() =>
        CheckOcrAsync<OcrRecognition>("ch_PP-OCRv4_rec_infer.onnx", "softmax_11.tmp_0", [(48, 160), (48, 320)], o => o.Probabilities, BatchBucketKind.Length);
}
