using Microsoft.Extensions.DependencyInjection;
using static ModelInService.Tests.Schema.ElementTypeAndShapeTests;

namespace ModelInService.Tests.Schema;

/// <summary>From an outside probe of IModelRunner and PredictBatchAsync with hostile input.</summary>
public sealed class HostileRunnerInputTests
{
    private static MultiIn Row(string text) => new() { F32 = [1, 2, 3], F64 = [0.5, 1], I32 = 1, I64 = [1, 2], U8 = [1, 2, 3, 4], Flag = true, Text = text };

    [Fact]
    public void A_shape_whose_element_count_overflows_is_refused_at_Create()
    {
        // 4 x (2^62 + 1) wrapped to 4, "fit" the 4 values, and ONNX Runtime failed the run with a raw OnnxRuntimeException.
        var error = Assert.Throws<ArgumentException>(() => NamedTensor.Create("features", new float[4], (1L << 62) + 1, 4));
        Assert.Contains("holds more than", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NamedTensor.Create("bytes", Array.Empty<byte>(), 1L << 32, 1L << 32));
        Assert.Equal(0, NamedTensor.Create("features", Array.Empty<float>(), 0, long.MaxValue).Shape[0]); // a zero dim: 0 elements
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(2, 2)]
    public async Task Lone_surrogates_in_string_inputs_are_refused_not_replaced(int example, int at)
    {
        // Built here: xUnit's theory data would turn a lone surrogate into U+FFFD on its way to the test.
        var text = example switch { 0 => "x" + (char)0xD800 + "y", 1 => ((char)0xDC00).ToString(), _ => "ok" + (char)0xD83D };
        // ONNX Runtime's string tensors are UTF-8: a lone surrogate came back as U+FFFD, another text than was sent.
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<MultiIn, MultiOut>(TestModels.MultiInput));
        var predictor = sp.GetRequiredService<IPredictor<MultiIn, MultiOut>>();
        var typed = await Assert.ThrowsAsync<ModelInputException>(() => predictor.PredictAsync(Row(text)).AsTask());
        Assert.Contains($"unpaired surrogate at character {at}", typed.Reason, StringComparison.Ordinal);

        var runner = sp.GetRequiredService<IModelRunner>();
        var inputs = new[]
        {
            NamedTensor.Create("f32", new float[3], 1, 3), NamedTensor.Create("f64", new double[2], 1, 2), NamedTensor.Create("i32", new int[1], 1, 1),
            NamedTensor.Create("i64", new long[2], 1, 2), NamedTensor.Create("u8", new byte[4], 1, 4), NamedTensor.Create("flag", new bool[1], 1, 1),
            NamedTensor.Create("text", new[] { "fine", text }, 2, 1),
        };
        var untyped = await Assert.ThrowsAsync<ModelInputException>(() => runner.RunAsync(inputs).AsTask());
        Assert.Equal("text[1]", untyped.MemberName);

        Assert.Equal("a\U0001F600b", (await predictor.PredictAsync(Row("a\U0001F600b"))).Text); // a surrogate pair is fine
    }

    [Fact]
    public async Task A_null_tensor_in_the_runners_list_is_located()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var runner = sp.GetRequiredService<IModelRunner>();
        var error = await Assert.ThrowsAsync<ModelInputException>(() => runner.RunAsync([NamedTensor.Create("features", IrisSamples.Setosa, 1, 4), null!]).AsTask());
        Assert.Contains("position 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictBatchAsync_sees_a_cancellation_while_it_validates()
    {
        // A million rows took a quarter second to validate before the token was first looked at.
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = sp.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        using var cts = new CancellationTokenSource();
        var rows = new CancelingList(1_000_000, cancelAt: 2_000, cts);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => predictor.PredictBatchAsync(rows, cts.Token).AsTask());
        Assert.InRange(rows.Read, 2_000, 2_000 + 1_024);
    }

    private sealed class CancelingList(int count, int cancelAt, CancellationTokenSource cts) : IReadOnlyList<IrisInput>
    {
        private readonly IrisInput _row = new() { Features = IrisSamples.Setosa };

        public int Read { get; private set; }

        public int Count => count;

        public IrisInput this[int index]
        {
            get
            {
                if (++Read == cancelAt)
                {
                    cts.Cancel();
                }

                return _row;
            }
        }

        public IEnumerator<IrisInput> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
