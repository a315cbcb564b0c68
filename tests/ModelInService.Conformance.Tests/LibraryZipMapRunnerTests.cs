using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// Issue 13, defect 4 on third-party models: sklearn-onnx pipelines whose probabilities are a ZipMap
/// <c>seq(map(int64,float))</c> come back through <see cref="IModelRunner"/>, equal to a direct ONNX Runtime run.
/// </summary>
public sealed class LibraryZipMapRunnerTests
{
    public static TheoryData<string> Models => ["pipeline_lightgbm.onnx", "pipeline_xgboost.onnx", "rf_iris.onnx", "logreg_iris.onnx"];

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public async Task Runner_ReturnsTheZipMapOutput_EqualToDirectOnnxRuntime(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var path = SharedData.Model("tabular", "skl2onnx_docs", file);
        var (provider, runner) = await LibraryHarness.StartUntypedAsync("zipmap", path);
        await using var _ = provider;
        var input = runner.Signature.Inputs[0];
        var width = (int)input.Dimensions[1];
        var rows = 5;
        var data = new float[rows * width];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = 0.5f + (i % 7 * 0.9f);
        }

        var outputs = await runner.RunAsync([NamedTensor.Create(input.Name, data, rows, width)]);

        Assert.Equal(runner.Signature.Outputs.Select(o => o.Name), outputs.Select(o => o.Name));
        var maps = Assert.Single(outputs, o => o.Kind == ModelValueKind.SequenceOfMaps).GetMaps<long, float>();
        Assert.Equal(rows, maps.Count);

        using var session = new InferenceSession(path);
        using var value = OrtValue.CreateTensorValueFromMemory(data, [rows, width]);
        using var results = session.Run(new RunOptions(), [input.Name], [value], session.OutputNames);
        var labels = results[0].GetTensorDataAsSpan<long>().ToArray();
        Assert.Equal(labels, outputs[0].GetData<long>());
        var allocator = OrtAllocator.DefaultInstance;
        for (var r = 0; r < rows; r++)
        {
            using var map = results[1].GetValue(r, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var k = keys.GetTensorDataAsSpan<long>();
            var v = values.GetTensorDataAsSpan<float>();
            Assert.Equal(k.Length, maps[r].Count);
            for (var i = 0; i < k.Length; i++)
            {
                Assert.Equal(v[i], maps[r][k[i]]);
            }
        }
    }
}
