using ModelInService.TestUtilities;

namespace ModelInService.Tool.Tests;

public class CSharpNamesTests
{
    [Theory]
    [InlineData("input:0", "Input0")]
    [InlineData("p2o.x", "P2oX")]
    [InlineData("x.1", "X1")]
    [InlineData("float_input", "FloatInput")]
    [InlineData("gpu_0/data_0", "Gpu0Data0")]
    [InlineData("0", "Tensor0")]
    [InlineData("::", "Tensor")]
    [InlineData("sigmoid_0.tmp_0", "Sigmoid0Tmp0")]
    public void ToPascal_GivesAnIdentifier(string name, string expected)
    {
        Assert.Equal(expected, CSharpNames.ToPascal(name));
        Assert.True(CSharpNames.IsValidIdentifier(expected));
    }

    [Fact]
    public void MemberNames_AreUniqueAndAvoidTheClassAndObjectMembers()
    {
        var names = CSharpNames.MemberNames(["x.1", "x:1", "to_string", "IrisInput", "x_1"], "IrisInput");

        Assert.Equal(["X1", "X12", "ToStringValue", "IrisInput2", "X13"], names);
    }

    [Theory]
    [InlineData("My.App", true)]
    [InlineData("_X.Y2", true)]
    [InlineData("My.class", false)]
    [InlineData("My..App", false)]
    [InlineData("1App", false)]
    [InlineData("", false)]
    public void IsValidNamespace(string ns, bool valid) => Assert.Equal(valid, CSharpNames.IsValidNamespace(ns));

    [Fact]
    public void Literal_EscapesQuotesBackslashesAndNonAscii() =>
        Assert.Equal("\"a\\\"b\\\\c\\u00e9\"", CSharpNames.Literal("a\"b\\cé"));

    [Fact]
    public void PrefixFromPath_UsesTheFolderForModelOnnx()
    {
        Assert.Equal("IrisMlp", CSharpNames.PrefixFromPath("/x/iris_mlp.onnx"));
        Assert.Equal("TestRelu", CSharpNames.PrefixFromPath("/x/test_relu/model.onnx"));
    }
}

public class OnnxHeaderTests
{
    [Fact]
    public void IrisSample_HeaderFields()
    {
        var header = OnnxHeader.Read(SharedData.RepoModel("iris_mlp.onnx"));

        Assert.Equal(8, header.IrVersion);
        Assert.Equal("ModelInService.ModelGenerator", header.ProducerName);
        Assert.Equal(new OpsetImport("ai.onnx", 17), Assert.Single(header.Opsets));
    }

    [SkippableFact]
    public void Skl2onnx_ImportsTheMlDomain()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var header = OnnxHeader.Read(SharedData.Model("tabular", "skl2onnx_docs", "rf_iris.onnx"));

        Assert.Equal("skl2onnx", header.ProducerName);
        Assert.Contains(header.Opsets, o => o.Domain == "ai.onnx.ml");
    }

    [Fact]
    public void Truncated_IsInvalidData()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mis-truncated-{Guid.NewGuid():N}.onnx");
        var bytes = File.ReadAllBytes(SharedData.RepoModel("iris_mlp.onnx"));
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        try
        {
            Assert.Throws<InvalidDataException>(() => OnnxHeader.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class BatchabilityTests
{
    private static async Task<BatchDescription> DescribeAsync(string path, IReadOnlyDictionary<string, int>? axes = null) =>
        Batchability.Describe((await LoadedModel.LoadAsync(path, axes, CancellationToken.None)).Signature);

    [Fact]
    public async Task IrisSample_BatchAxisZeroEverywhere_NoBuckets()
    {
        var d = await DescribeAsync(SharedData.RepoModel("iris_mlp.onnx"));

        Assert.True(d.Batchable);
        Assert.All(d.Tensors, t => Assert.Equal(0, t.BatchAxis));
        Assert.Equal(BucketKind.None, d.Buckets);
        Assert.Empty(d.BucketKeys);
        Assert.Equal(4, d.Find(TensorRole.Input, "features").FixedRowElements);
        Assert.Equal(1, d.Find(TensorRole.Output, "label").FixedRowElements);
    }

    [Fact]
    public async Task IrisFixedSample_NotBatchable_RowIsTheWholeTensor()
    {
        var d = await DescribeAsync(SharedData.RepoModel("iris_mlp_fixed.onnx"));

        Assert.False(d.Batchable);
        // The library's reason, inside the tool's "not batchable: ...; each request runs alone".
        Assert.Equal("not batchable: no input has a batch axis: input 'features' [1,4] has a fixed first dimension (1); set ModelOptions.BatchAxes[\"features\"] = k if its free dimension k holds the rows; each request runs alone", d.Reason);
        Assert.All(d.Tensors, t => Assert.Null(t.BatchAxis));
        Assert.Equal([0, 1], d.Find(TensorRole.Input, "features").RowDimensions);
    }

    [SkippableFact]
    public async Task Gpt2Past_PastAndPresentBatchOnAxis1ByTheirSymbol_IsBatchable_WithLengthBuckets()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var d = await DescribeAsync(SharedData.Model("text", "tiny_random_gpt2_fp32", "past.onnx"));

        Assert.True(d.Batchable, d.Reason);
        Assert.Equal(0, d.Find(TensorRole.Input, "input_ids").BatchAxis);
        Assert.Equal(1, d.Find(TensorRole.Input, "past_0").BatchAxis);
        Assert.Equal(1, d.Find(TensorRole.Output, "present_4").BatchAxis);
        Assert.Equal([0, 2, 3, 4], d.Find(TensorRole.Input, "past_0").RowDimensions);
        Assert.Equal(BucketKind.Length, d.Buckets);
        Assert.Contains("past_0 dim 3 (past_seq_len)", d.BucketKeys);
    }

    [Fact]
    public async Task DeclaredNoAxisOnAnOutput_ReachesTheLibrary_ModelIsNotBatchable()
    {
        var path = SharedData.RepoModel("conv_output_flattened.onnx");
        Assert.True((await DescribeAsync(path)).Batchable);

        var d = await DescribeAsync(path, new Dictionary<string, int> { ["flat"] = -1 });

        Assert.False(d.Batchable);
        Assert.StartsWith("not batchable: output 'flat' has no batch axis", d.Reason, StringComparison.Ordinal);
        Assert.Null(d.Find(TensorRole.Output, "flat").BatchAxis);
        Assert.Equal(0, d.Find(TensorRole.Input, "x").BatchAxis);
    }

    [SkippableFact]
    public async Task SileroDeclaredAxes_StateOnAxis1_SrIsAPerRunConstant()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var d = await DescribeAsync(SharedData.Model("audio", "silero_vad_v5.onnx"), new Dictionary<string, int> { ["state"] = 1, ["stateN"] = 1 });

        Assert.True(d.Batchable, d.Reason);
        Assert.Equal(256, d.Find(TensorRole.Input, "state").FixedRowElements);
        Assert.True(d.Find(TensorRole.Input, "sr").PerRunConstant);
        Assert.Equal("per-run constant", d.Find(TensorRole.Input, "sr").DescribeAxis());
        Assert.Equal(BucketKind.Length, d.Buckets);
        Assert.Equal(["input dim 1", "value of sr"], d.BucketKeys);
    }

    [SkippableFact]
    public async Task DeclaredAxisOnAFixedDimension_IsRefusedByTheLibraryAtLoad()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var e = await Assert.ThrowsAsync<ModelSchemaException>(() => DescribeAsync(SharedData.Model("audio", "silero_vad_v5.onnx"), new Dictionary<string, int> { ["state"] = 2 }));

        Assert.Contains("ModelOptions.BatchAxes[\"state\"] is 2, but dimension 2 of input 'state' [2,?,128] is fixed at 128", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task MnistSetDim_SymbolN_IsBatchable()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var d = await DescribeAsync(SharedData.Model("mnist", "mnist-8-setdim.onnx"));

        Assert.True(d.Batchable);
        Assert.Equal("0 (N)", d.Find(TensorRole.Input, "Input3").DescribeAxis());
        Assert.Equal(784, d.Find(TensorRole.Input, "Input3").FixedRowElements);
    }
}
