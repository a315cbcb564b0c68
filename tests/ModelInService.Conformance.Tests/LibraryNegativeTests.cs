using Microsoft.Extensions.DependencyInjection;
using ModelInService.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// The models ONNX Runtime refuses (shared <c>negative/</c>) must fail <c>StartModelsAsync</c> with a
/// <see cref="ModelLoadException"/> that names the model, the file and ONNX Runtime's own reason.
/// </summary>
public sealed class LibraryNegativeTests(ITestOutputHelper output)
{
    /// <summary>Each refused model with a fragment of what ONNX Runtime 1.31 says about it.</summary>
    public static readonly (string Folder, string Reason)[] Models =
    [
        ("onnx_tutorials_super_resolution_no_opset", "Missing opset in the model"),
        ("pytorch-converted/test_BatchNorm2d_eval", "Could not find an implementation for BatchNormalization(6) node"),
        ("pytorch-converted/test_Linear", "Could not find an implementation for Gemm(6) node"),
        ("pytorch-converted/test_PReLU_2d", "Could not find an implementation for PRelu(6) node"),
    ];

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (folder, reason) in Models)
            {
                data.Add(folder, reason);
            }

            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Typed_and_untyped_registration_fail_to_start_with_the_runtime_reason(string folder, string reason)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var path = SharedData.Model(["negative", .. folder.Split('/'), "model.onnx"]);
        Assert.True(File.Exists(path), path);

        var untyped = await Assert.ThrowsAsync<ModelLoadException>(() => LibraryHarness.StartAsync(s => s.AddModel("refused", o => o.Source = ModelSource.FromFile(path))));
        output.WriteLine(untyped.Message);
        AssertNamesTheFileAndTheReason(untyped, "refused", path, reason);

        // A typed registration fails the same way, before any schema binding (not a ModelSchemaException).
        var typed = await Assert.ThrowsAsync<ModelLoadException>(() => LibraryHarness.StartAsync(s => s.AddModel<MnistImage, MnistLogits>("refused-typed", o => o.Source = ModelSource.FromFile(path))));
        Assert.IsNotType<ModelSchemaException>(typed);
        AssertNamesTheFileAndTheReason(typed, "refused-typed", path, reason);
    }

    [SkippableFact]
    public async Task ContinueOnLoadError_starts_and_every_call_reports_the_load_error()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (folder, reason) = Models[0];
        var path = SharedData.Model(["negative", .. folder.Split('/'), "model.onnx"]);

        await using var provider = await LibraryHarness.StartAsync(s => s.AddModel("refused", o =>
        {
            o.Source = ModelSource.FromFile(path);
            o.ContinueOnLoadError = true;
        }));
        var runner = provider.GetRequiredKeyedService<IModelRunner>("refused");

        var error = Assert.Throws<ModelLoadException>(() => runner.Signature);
        AssertNamesTheFileAndTheReason(error, "refused", path, reason);
        var runError = await Assert.ThrowsAsync<ModelLoadException>(async () => await runner.RunAsync([NamedTensor.Create("x", new float[1], 1)]));
        AssertNamesTheFileAndTheReason(runError, "refused", path, reason);
    }

    private static void AssertNamesTheFileAndTheReason(ModelLoadException error, string name, string path, string reason)
    {
        Assert.Equal(name, error.ModelName);
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("ONNX Runtime", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
