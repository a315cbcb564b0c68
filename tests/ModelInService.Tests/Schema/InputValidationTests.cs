using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Schema;

public class InputValidationTests
{
    public sealed class IrisScalars
    {
        [ModelInput("features")] public float SepalLength { get; set; }
        [ModelInput("features")] public float SepalWidth { get; set; }
        [ModelInput("features")] public float PetalLength { get; set; }
        [ModelInput("features"), AllowNonFinite] public float PetalWidth { get; set; }
    }

    public sealed class TextIn { [ModelInput("bytes")] public byte[] Bytes { get; set; } = []; }

    public sealed class TextOut { [ModelOutput("scores")] public float[] Scores { get; set; } = []; }

    public sealed class MemoryIn { [ModelInput("features")] public ReadOnlyMemory<float> Features { get; set; } }

    private static async Task<IServiceProvider> Start(Action<ModelOptions>? configure = null)
    {
        var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("iris", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); configure?.Invoke(o); });
            s.AddModel<IrisScalars, IrisOutput>("scalars", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); configure?.Invoke(o); });
            s.AddModel<MemoryIn, IrisOutput>("memory", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); configure?.Invoke(o); });
            s.AddModel<TextIn, TextOut>("text", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.VariableLength);
                o.MaxVariableElements = 100;
                configure?.Invoke(o);
            });
        });
        return provider;
    }

    private static async Task<ModelInputException> Rejects<TIn, TOut>(IServiceProvider sp, string model, TIn input)
    {
        var predictor = sp.GetRequiredKeyedService<IPredictor<TIn, TOut>>(model);
        return await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(input));
    }

    [Fact]
    public async Task NullInput_IsRejected()
    {
        var sp = await Start();
        var ex = await Rejects<IrisInput, IrisOutput>(sp, "iris", null!);
        Assert.Null(ex.MemberName);
        Assert.Contains("the IrisInput is null", ex.Message);
    }

    [Fact]
    public async Task NullArrayMember_NamesTheMember()
    {
        var sp = await Start();
        var ex = await Rejects<IrisInput, IrisOutput>(sp, "iris", new IrisInput { Features = null! });
        Assert.Equal("IrisInput.Features", ex.MemberName);
        Assert.Equal("is null", ex.Reason);
        Assert.Equal("iris", ex.ModelName);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(0)]
    public async Task WrongLength_SaysWhatTheModelExpects(int length)
    {
        var sp = await Start();
        var ex = await Rejects<IrisInput, IrisOutput>(sp, "iris", new IrisInput { Features = new float[length] });
        Assert.Equal($"has {length} element{(length == 1 ? "" : "s")}; input 'features' (float32 [batch,4]) expects 4 per row", ex.Reason);
    }

    [Fact]
    public async Task WrongLength_ReadOnlyMemoryMember()
    {
        var sp = await Start();
        var ex = await Rejects<MemoryIn, IrisOutput>(sp, "memory", new MemoryIn { Features = new float[] { 1, 2 } });
        Assert.Equal("MemoryIn.Features", ex.MemberName);
        var ok = await sp.GetRequiredKeyedService<IPredictor<MemoryIn, IrisOutput>>("memory").PredictAsync(new MemoryIn { Features = new float[] { 9, 9, 5.1f, 3.5f, 1.4f, 0.2f, 9 }.AsMemory(2, 4) });
        Assert.Equal(0, ok.Label);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+infinity")]
    [InlineData(float.NegativeInfinity, "-infinity")]
    public async Task NonFiniteArrayElement_IsRejectedWithItsIndex(float value, string shown)
    {
        var sp = await Start();
        var ex = await Rejects<IrisInput, IrisOutput>(sp, "iris", new IrisInput { Features = [1, 2, value, 4] });
        Assert.Equal("IrisInput.Features[2]", ex.MemberName);
        Assert.StartsWith($"is {shown}; non-finite values are rejected", ex.Reason);
    }

    [Fact]
    public async Task NonFiniteScalar_IsRejected_UnlessTheMemberAllowsIt()
    {
        var sp = await Start();
        var ex = await Rejects<IrisScalars, IrisOutput>(sp, "scalars", new IrisScalars { SepalLength = 5, SepalWidth = float.NaN, PetalLength = 1, PetalWidth = 0.2f });
        Assert.Equal("IrisScalars.SepalWidth", ex.MemberName);

        // PetalWidth carries [AllowNonFinite]: the value reaches the model, whose NaN probabilities are then refused
        // as an output (IrisOutput does not opt out): an inference error, not a validation error.
        await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await sp.GetRequiredKeyedService<IPredictor<IrisScalars, IrisOutput>>("scalars")
            .PredictAsync(new IrisScalars { SepalLength = 5, SepalWidth = 3, PetalLength = 1, PetalWidth = float.NaN }));
    }

    [Fact]
    public async Task NonFinitePolicyAllow_LetsValuesThrough()
    {
        var sp = await Start(o => o.NonFiniteValues = NonFiniteValuePolicy.Allow);
        // The value reaches the model (no ModelInputException); its non-finite probabilities are refused as an output.
        await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await sp.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris").PredictAsync(new IrisInput { Features = [1, float.PositiveInfinity, 3, 4] }));
    }

    [Fact]
    public async Task VariableLength_EmptyAndOversized_AreRejected()
    {
        var sp = await Start();
        var empty = await Rejects<TextIn, TextOut>(sp, "text", new TextIn { Bytes = [] });
        Assert.StartsWith("is empty", empty.Reason);
        var big = await Rejects<TextIn, TextOut>(sp, "text", new TextIn { Bytes = new byte[101] });
        Assert.Equal("has 101 elements; the limit is 100 (ModelOptions.MaxVariableElements)", big.Reason);
    }

    [Fact]
    public async Task BatchWithOneBadItem_FailsBeforeRunning_NamingTheIndex()
    {
        var sp = await Start();
        var predictor = sp.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris");
        var inputs = new[] { new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = [1, 2, 3] } };

        var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictBatchAsync(inputs));
        Assert.Equal(2, ex.Index);
        Assert.Contains("batch item 2", ex.Message);
    }

    [Fact]
    public async Task VariableLengthBatch_WithDifferentLengths_IsGroupedByLength()
    {
        var sp = await Start();
        var predictor = sp.GetRequiredKeyedService<IPredictor<TextIn, TextOut>>("text");
        var outputs = await predictor.PredictBatchAsync([new TextIn { Bytes = [255, 0] }, new TextIn { Bytes = [0, 0, 255] }, new TextIn { Bytes = [0, 255] }]);
        Assert.Equal([1f, 0f, 0f, 1f], outputs[0].Scores);
        Assert.Equal([0f, 1f, 0f, 1f, 1f, 0f], outputs[1].Scores);
        Assert.Equal([0f, 1f, 1f, 0f], outputs[2].Scores);
    }

    [Fact]
    public async Task BatchItemError_NamesItsIndexOnce()
    {
        var sp = await Start();
        var predictor = sp.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris");
        var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictBatchAsync([new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = [1] }]));
        Assert.Equal(1, ex.Index);
        Assert.EndsWith("(batch item 1)", ex.Message);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(ex.Message, "batch item"));
    }

    [Fact]
    public async Task InvalidInputs_NeverBreakThePredictor()
    {
        var sp = await Start();
        var predictor = sp.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris");
        for (var i = 0; i < 50; i++)
        {
            await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = new float[i % 4] }));
        }

        Assert.Equal(2, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica })).Label);
    }
}
