using ModelInService.TestUtilities;

namespace ModelInService.Tool.Tests;

/// <summary>
/// `mis scaffold` on every model: the classes compile (no errors, no warnings, XML docs checked) with a driver that
/// registers them with <c>AddModel&lt;TIn,TOut&gt;</c>, and one prediction runs through <c>IPredictor</c> on synthetic
/// rows of the right shapes, whose tensor outputs must equal a direct ONNX Runtime run on the same tensors.
/// </summary>
public class ScaffoldCompileAndPredictTests
{
    /// <summary>
    /// Models the library refuses at start-up with the scaffolded classes, with the library's exact message and why
    /// refusing is right. Empty: since the binder's rewrite (issue 13) every shared and repository model binds. A model
    /// added here that binds fails <see cref="SharedModel_ScaffoldPredicts"/> until it is removed, so the list can
    /// only shrink.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> ExpectedRefusals = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Batch axes declared for a model (<c>mis scaffold --batch-axis</c>, passed to <c>ModelOptions.BatchAxes</c>)
    /// where the signature cannot tell: without them the model loads but its predictions fail.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> DeclaredAxes = new Dictionary<string, IReadOnlyDictionary<string, int>>(StringComparer.Ordinal)
    {
        // flat [unk__1] is x flattened (N*2 values): a free first dimension that is not the batch. Without the
        // declaration the library takes it as the batch and the run fails at unpack (2 elements per row).
        ["conv_output_flattened.onnx"] = new Dictionary<string, int> { ["flat"] = -1 },
        // The recurrent state batches on axis 1 (docs/schemas.md, Overrides). Without the declaration the model is not
        // batchable, yet stateN [?,?,?] gets batch axis 0 automatically, so its member is a float[,] row; run alone,
        // the library then takes stateN whole and the prediction fails: "shape [2,1,128] has more dimensions per row
        // than the 2 of the bound member" (a library issue, reported).
        ["audio/silero_vad_v5.onnx"] = new Dictionary<string, int> { ["state"] = 1, ["stateN"] = 1 },
    };

    /// <summary>Values and sizes the synthetic input needs for a model to accept it (anything else: defaults).</summary>
    private static readonly IReadOnlyDictionary<string, SyntheticData> Inputs = new Dictionary<string, SyntheticData>(StringComparer.Ordinal)
    {
        ["audio/silero_vad_v5.onnx"] = new(new Dictionary<string, long> { ["input[1]"] = 512 }, new Dictionary<string, string> { ["sr"] = "16000" }),
        // attention_mask covers the past and the new tokens: total_seq_len = past_seq_len + seq_len.
        ["text/tiny_random_gpt2_fp32/past.onnx"] = new(new Dictionary<string, long> { ["seq_len"] = 4, ["past_seq_len"] = 3, ["total_seq_len"] = 7 }),
        // The declared output [3,3] is 3 selected boxes: at most 3 per class, no box suppressed (IoU never exceeds 1), every score passes.
        ["node/test_nonmaxsuppression_center_point_box_format/model.onnx"] = new(values: new Dictionary<string, string>
        {
            ["max_output_boxes_per_class"] = "3", ["iou_threshold"] = "1", ["score_threshold"] = "0",
        }),
        // Scales 1,1,2,2 give the declared output [1,1,4,4] from [1,1,2,2] (linear mode resizes only the last two axes).
        ["node/test_resize_upsample_scales_linear/model.onnx"] = new(values: new Dictionary<string, string> { ["scales"] = "1,1,2,2" }),
    };

    [SkippableTheory]
    [MemberData(nameof(Models.Shared), MemberType = typeof(Models))]
    public async Task SharedModel_ScaffoldCompiles(string model)
    {
        var path = Models.SharedPath(model);
        Skip.If(model.StartsWith(Models.NegativeFolder, StringComparison.Ordinal), "negative/ holds intentionally broken models that ONNX Runtime refuses to load");
        var harness = await ScaffoldHarness.CreateAsync(path);
        var (assembly, diagnostics) = harness.Compile();
        Assert.True(assembly is not null, string.Join(Environment.NewLine, diagnostics));
    }

    [SkippableTheory]
    [MemberData(nameof(Models.Shared), MemberType = typeof(Models))]
    public async Task SharedModel_ScaffoldPredicts(string model)
    {
        var path = Models.SharedPath(model);
        Skip.If(model.StartsWith(Models.NegativeFolder, StringComparison.Ordinal), "negative/ holds intentionally broken models that ONNX Runtime refuses to load");
        await PredictAsync(model, path);
    }

    [SkippableTheory]
    [MemberData(nameof(Models.Repo), MemberType = typeof(Models))]
    public async Task RepoModel_ScaffoldCompilesAndPredicts(string model)
    {
        await PredictAsync(model, SharedData.RepoModel(model));
    }

    [SkippableFact]
    public async Task NegativeModels_AreRefusedAtLoad_WithOnnxRuntimesMessage()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var negative = Directory.EnumerateFiles(Path.Combine(SharedData.ModelsDir, "negative"), "*.onnx", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(negative);
        foreach (var path in negative)
        {
            var e = await Assert.ThrowsAsync<ModelLoadException>(() => ScaffoldHarness.CreateAsync(path));
            Assert.Contains("ONNX Runtime", e.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task SileroWithDeclaredAxes_StateRowIs256Values_SrIsOneValuePerRun_PredictsAsOnnxRuntime()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        const string model = "audio/silero_vad_v5.onnx";
        var axes = new Dictionary<string, int> { ["state"] = 1, ["stateN"] = 1 };
        var harness = await PredictAsync(model, SharedData.Model("audio", "silero_vad_v5.onnx"), axes,
            new SyntheticData(new Dictionary<string, long> { ["input[1]"] = 512 }, new Dictionary<string, string> { ["sr"] = "16000" }));

        Assert.True(harness.Batching.Batchable, harness.Batching.Reason);
        var input = harness.Scaffold.Files[0].Text;
        Assert.Contains("Batch axis 1; one row: 256 values, shape [2,128] flattened row-major.", input, StringComparison.Ordinal);
        Assert.Contains("public float[] State { get; set; } = [];", input, StringComparison.Ordinal);
        Assert.Contains("No batch axis (one value per run: rows batched together share it): one value.", input, StringComparison.Ordinal);
        Assert.Contains("public long Sr { get; set; }", input, StringComparison.Ordinal);
        Assert.Contains("services.AddModel&lt;SileroVadV5Input, SileroVadV5Output&gt;(\"silero_vad_v5.onnx\", o =&gt; { o.BatchAxes[\"state\"] = 1; o.BatchAxes[\"stateN\"] = 1; })", input, StringComparison.Ordinal);
        Assert.Contains("public float[,] StateN { get; set; } = new float[0, 0];", harness.Scaffold.Files[1].Text, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task PaddleOcrDet_TwoFreeDimensionsPerRow_AreRectangularArrays_WhoseDocsNameEachDimension()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var harness = await PredictAsync("vision/paddleocr/ch_PP-OCRv4_det_infer.onnx", SharedData.Model("vision", "paddleocr", "ch_PP-OCRv4_det_infer.onnx"), null, new SyntheticData());

        var input = harness.Scaffold.Files[0].Text;
        Assert.Contains("[ModelInput(\"x\")]\n    public float[,,] X { get; set; } = new float[0, 0, 0];", input, StringComparison.Ordinal);
        Assert.Contains("one row: shape [3,p2o.DynamicDimension.1,p2o.DynamicDimension.2] as a float[,,]: dimension 0 is 3, dimension 1 is p2o.DynamicDimension.1 (free: GetLength(1) sets it), dimension 2 is p2o.DynamicDimension.2 (free: GetLength(2) sets it).", input, StringComparison.Ordinal);
        Assert.Contains("public float[,,] Sigmoid0Tmp0 { get; set; } = new float[0, 0, 0];", harness.Scaffold.Files[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutputFlattened_WithoutDeclaringItsAxis_FailsAtUnpack_WithTheLibrarysMessage()
    {
        // Why DeclaredAxes has an entry: flat [unk__1] looks like a batched output, and only the run shows it is not.
        var path = SharedData.RepoModel("conv_output_flattened.onnx");
        var harness = await ScaffoldHarness.CreateAsync(path);
        var (assembly, diagnostics) = harness.Compile();
        Assert.True(assembly is not null, string.Join(Environment.NewLine, diagnostics));
        var input = harness.CreateInput(assembly, new SyntheticData());

        var e = await Assert.ThrowsAsync<ModelInferenceException>(() => ScaffoldHarness.PredictAsync(assembly, path, input));
        Assert.Contains("output 'flat' (float32 [unk__1]): 2 elements per row, but 1 scalar member is bound to it", e.Message, StringComparison.Ordinal);
    }

    private static Task<ScaffoldHarness> PredictAsync(string model, string path) =>
        PredictAsync(model, path, DeclaredAxes.GetValueOrDefault(model), Inputs.GetValueOrDefault(model) ?? new SyntheticData());

    private static async Task<ScaffoldHarness> PredictAsync(string model, string path, IReadOnlyDictionary<string, int>? axes, SyntheticData data)
    {
        var harness = await ScaffoldHarness.CreateAsync(path, axes);
        var (assembly, diagnostics) = harness.Compile();
        Assert.True(assembly is not null, string.Join(Environment.NewLine, diagnostics));
        var input = harness.CreateInput(assembly, data);

        object output;
        try
        {
            output = await ScaffoldHarness.PredictAsync(assembly, path, input);
        }
        catch (ModelLoadException e) when (ExpectedRefusals.TryGetValue(model, out var expected))
        {
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Skip.If(true, $"the library refuses {model}: {e.Message}");
            return harness;
        }

        Assert.False(ExpectedRefusals.ContainsKey(model), $"{model} binds now: remove it from ExpectedRefusals");
        var problems = harness.CheckOutput(output);
        Assert.True(problems.Count == 0, string.Join("; ", problems));
        var reference = harness.Reference();
        Assert.NotEmpty(reference);
        var differences = harness.CompareWith(output, reference);
        Assert.True(differences.Count == 0, "the prediction differs from a direct ONNX Runtime run: " + string.Join("; ", differences));
        return harness;
    }
}
