using ModelInService.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// The ONNX backend node tests in the shared folder, through <see cref="IModelRunner"/> (untyped <c>AddModel</c>): each
/// input_N.pb goes in as a <see cref="NamedTensor"/>, every output must match output_N.pb (floats within the
/// tolerance the raw-ORT <see cref="RuntimeConformanceTests"/> use; integers, bools and strings exactly).
/// </summary>
public sealed class LibraryNodeTests(ITestOutputHelper output)
{
    private const double Relative = 1e-3;
    private const double Absolute = 1e-5;

    /// <summary>
    /// Listed by name (not discovered) so the test report shows one case per folder even without the shared data;
    /// <see cref="Case_list_matches_the_shared_folder"/> keeps the list honest.
    /// </summary>
    public static readonly string[] Folders =
    [
        "pytorch-converted/test_Conv2d",
        "pytorch-converted/test_Embedding",
        "test_ai_onnx_ml_binarizer",
        "test_ai_onnx_ml_label_encoder_string_int",
        "test_ai_onnx_ml_tree_ensemble_single_tree",
        "test_argmax_default_axis_example",
        "test_attention_4d",
        "test_conv_with_strides_padding",
        "test_einsum_batch_matmul",
        "test_gather_0",
        "test_gemm_default_no_bias",
        "test_gru_defaults",
        "test_layer_normalization_2d_axis0",
        "test_lstm_defaults",
        "test_matmul_2d",
        "test_nonmaxsuppression_center_point_box_format",
        "test_qlinearmatmul_2D_uint8_float32",
        "test_relu",
        "test_resize_upsample_scales_linear",
        "test_rotary_embedding",
        "test_softmax_example",
        "test_string_concat",
    ];

    public static TheoryData<string> Cases => new(Folders);

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Runner_reproduces_expected_outputs(string folder)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var test = OnnxTestCase.Load(SharedData.Model(["node", .. folder.Split('/')]));
        var (provider, runner) = await LibraryHarness.StartUntypedAsync(test.Name, test.ModelPath, o => o.NonFiniteValues = NonFiniteValuePolicy.Allow);
        await using var _ = provider;
        output.WriteLine($"{test.Name}: inputs {string.Join(", ", runner.Signature.Inputs.Select(s => $"{s.Name} {s}"))}; outputs {string.Join(", ", runner.Signature.Outputs.Select(s => $"{s.Name} {s}"))}");
        output.WriteLine($"data: {string.Join(", ", test.Inputs)} -> {string.Join(", ", test.Outputs)}");

        var results = await runner.RunAsync(test.Inputs.Select(LibraryHarness.ToNamedTensor).ToArray());

        // Every tensor output, in signature order.
        Assert.Equal(runner.Signature.Outputs.Where(o => o.Kind == ModelValueKind.Tensor).Select(o => o.Name), results.Select(r => r.Name));
        Assert.Equal(test.Outputs.Count, results.Count);
        var failures = new List<string>();
        foreach (var expected in test.Outputs)
        {
            var actual = results.SingleOrDefault(r => r.Name == expected.Name);
            if (actual is null)
            {
                failures.Add($"output '{expected.Name}' missing (got {string.Join(", ", results.Select(r => r.Name))})");
                continue;
            }

            Assert.Equal(LibraryHarness.ToModelElementType(expected.ElementType), actual.ElementType);
            var problem = LibraryHarness.Compare(expected, LibraryHarness.ToTestTensor(actual), Relative, Absolute);
            if (problem is not null)
            {
                failures.Add(problem);
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [SkippableFact]
    public void Case_list_matches_the_shared_folder()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var root = SharedData.Model("node");
        var found = OnnxTestCase.FindAll(root)
            .Select(d => Path.GetRelativePath(root, d).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal);

        Assert.Equal(Folders.Order(StringComparer.Ordinal), found);
    }

    [SkippableFact]
    public void Every_node_tensor_has_an_element_type_NamedTensor_can_carry()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var unsupported = new List<string>();
        foreach (var folder in Folders)
        {
            var test = OnnxTestCase.Load(SharedData.Model(["node", .. folder.Split('/')]));
            foreach (var tensor in test.Inputs.Concat(test.Outputs))
            {
                if (LibraryHarness.ToModelElementType(tensor.ElementType) == ModelElementType.Unknown)
                {
                    unsupported.Add($"{folder}: {tensor}");
                }
            }
        }

        Assert.Empty(unsupported);
    }
}
