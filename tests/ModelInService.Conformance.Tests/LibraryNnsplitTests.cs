using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>nnsplit's bytes of text: uint8 [batch,length], one free dimension in the row.</summary>
public sealed class NnsplitText
{
    [ModelInput("input")]
    public byte[] Bytes { get; set; } = [];
}

/// <summary>Two scores per byte: float32 [batch,length,2], flattened.</summary>
public sealed class NnsplitScores
{
    [ModelOutput("output")]
    public float[] Scores { get; set; } = [];
}

/// <summary>nnsplit's byte-level bidirectional LSTM through <see cref="IPredictor{TInput, TOutput}"/>.</summary>
public sealed class LibraryNnsplitTests
{
    private const double Tolerance = 1e-4;

    [SkippableFact]
    public async Task Batch_of_both_rows_reproduces_Add_26()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, expected) = Bundle();
        var (provider, predictor) = await StartAsync();
        await using var _ = provider;

        var outputs = await predictor.PredictBatchAsync(rows.Select(r => new NnsplitText { Bytes = r }).ToArray());

        Assert.Equal(2, outputs.Count);
        for (var r = 0; r < rows.Length; r++)
        {
            LibraryHarness.AssertClose(expected[r], outputs[r].Scores, Tolerance, $"row {r} scores");
        }
    }

    [SkippableFact]
    public async Task Each_row_alone_reproduces_its_slice_of_Add_26()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, expected) = Bundle();
        var (provider, predictor) = await StartAsync();
        await using var _ = provider;

        for (var r = 0; r < rows.Length; r++)
        {
            var output = await predictor.PredictAsync(new NnsplitText { Bytes = rows[r] });
            LibraryHarness.AssertClose(expected[r], output.Scores, Tolerance, $"row {r} scores");
        }
    }

    [SkippableFact]
    public async Task A_shorter_text_gives_two_scores_per_byte()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor) = await StartAsync();
        await using var _ = provider;

        var output = await predictor.PredictAsync(new NnsplitText { Bytes = "Hello world. Bye."u8.ToArray() });

        Assert.Equal(2 * 17, output.Scores.Length);
        Assert.All(output.Scores, s => Assert.True(float.IsFinite(s)));
    }

    [SkippableFact]
    public async Task Rows_of_different_lengths_in_one_call_are_grouped_by_length_and_match_single_runs()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (rows, expected) = Bundle();
        var (provider, predictor) = await StartAsync();
        await using var _ = provider;
        var shortText = "abc"u8.ToArray();
        var shortAlone = (await predictor.PredictAsync(new NnsplitText { Bytes = shortText })).Scores;

        var outputs = await predictor.PredictBatchAsync([new NnsplitText { Bytes = rows[0] }, new NnsplitText { Bytes = shortText }, new NnsplitText { Bytes = rows[1] }]);

        LibraryHarness.AssertClose(expected[0], outputs[0].Scores, Tolerance, "row 0");
        LibraryHarness.AssertClose(shortAlone, outputs[1].Scores, Tolerance, "short text");
        LibraryHarness.AssertClose(expected[1], outputs[2].Scores, Tolerance, "row 1");
    }

    [SkippableFact]
    public async Task A_float_member_for_the_uint8_input_fails_start_up_with_a_schema_error()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);

        var error = await Assert.ThrowsAsync<ModelSchemaException>(() => LibraryHarness.StartTypedAsync<MnistImage, NnsplitScores>(
            "nnsplit-wrong", SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "model.onnx")));

        // MnistImage maps Pixels to 'Input3', which nnsplit does not have; and nnsplit's 'input' has no member.
        Assert.Equal("nnsplit-wrong", error.ModelName);
        Assert.Contains(error.Mismatches, m => m.Contains("'Input3'", StringComparison.Ordinal) && m.Contains("'input'", StringComparison.Ordinal));
        Assert.Contains(error.Mismatches, m => m.StartsWith("input 'input' (uint8 [", StringComparison.Ordinal));
    }

    private static Task<(Microsoft.Extensions.DependencyInjection.ServiceProvider Provider, IPredictor<NnsplitText, NnsplitScores> Predictor)> StartAsync() =>
        LibraryHarness.StartTypedAsync<NnsplitText, NnsplitScores>("nnsplit", SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "model.onnx"));

    /// <summary>The [2,58] input rows and the matching [58,2] slices of the expected Add_26 [2,58,2].</summary>
    internal static (byte[][] Rows, float[][] Expected) Bundle()
    {
        var arrays = NpzReader.Read(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "io.npz"));
        var input = arrays["input"];
        var output = arrays["Add_26"];
        Assert.Equal([2L, 58L], input.Dims);
        Assert.Equal([2L, 58L, 2L], output.Dims);
        var bytes = input.As<byte>();
        var scores = output.As<float>();
        return (
            [bytes[..58], bytes[58..]],
            [scores[..116], scores[116..]]);
    }
}
