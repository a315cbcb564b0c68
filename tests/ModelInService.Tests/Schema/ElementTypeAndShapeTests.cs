using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Schema;

public class ElementTypeAndShapeTests
{
    [ModelSchema]
    public sealed class MultiIn
    {
        public float[] F32 { get; set; } = [];
        public double[] F64 { get; set; } = [];
        public int I32 { get; set; }
        public long[] I64 { get; set; } = [];
        public byte[] U8 { get; set; } = [];
        public bool Flag { get; set; }
        public string Text { get; set; } = "";
    }

    [ModelSchema]
    public sealed class MultiOut
    {
        [ModelOutput("f32_sum")] public float Sum { get; set; }
        [ModelOutput("f64_out")] public double[] F64 { get; set; } = [];
        [ModelOutput("i32_out")] public int I32 { get; set; }
        [ModelOutput("i64_out")] public long I64 { get; set; }
        [ModelOutput("u8_out")] public byte[] U8 { get; set; } = [];
        [ModelOutput("flag_out")] public bool Flag { get; set; }
        [ModelOutput("text_out")] public string Text { get; set; } = "";
    }

    [Fact]
    public async Task EveryElementType_RoundTripsThroughTheModel()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<MultiIn, MultiOut>(TestModels.MultiInput));
        var predictor = sp.GetRequiredService<IPredictor<MultiIn, MultiOut>>();
        var input = new MultiIn { F32 = [1.5f, 2, 3], F64 = [0.25, 4], I32 = 7, I64 = [10, 20], U8 = [0, 1, 200, 255], Flag = true, Text = "héllo wörld" };

        var output = await predictor.PredictAsync(input);

        Assert.Equal(1.5f + 2 + 3 + 0.25f + 4 + 7 + 10 + 20 + 0 + 1 + 200 + 255, output.Sum, 3);
        Assert.Equal([0.5, 8.0], output.F64);
        Assert.Equal(8, output.I32);
        Assert.Equal(30, output.I64);
        Assert.Equal([255, 254, 55, 0], output.U8);
        Assert.False(output.Flag);
        Assert.Equal("héllo wörld", output.Text);
    }

    [Fact]
    public async Task EveryElementType_Batched_KeepsRowsApart()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<MultiIn, MultiOut>(TestModels.MultiInput));
        var predictor = sp.GetRequiredService<IPredictor<MultiIn, MultiOut>>();
        var inputs = Enumerable.Range(0, 20).Select(i => new MultiIn
        {
            F32 = [i, 0, 0], F64 = [i, 1], I32 = -i, I64 = [i, i], U8 = [(byte)i, 0, 0, 0], Flag = i % 2 == 0, Text = "row " + i,
        }).ToList();

        var outputs = await predictor.PredictBatchAsync(inputs);

        for (var i = 0; i < inputs.Count; i++)
        {
            Assert.Equal(i + i + 1 - i + (2 * i) + i, outputs[i].Sum, 3);
            Assert.Equal(1 - i, outputs[i].I32);
            Assert.Equal(2L * i, outputs[i].I64);
            Assert.Equal(i % 2 != 0, outputs[i].Flag);
            Assert.Equal("row " + i, outputs[i].Text);
            Assert.Equal((byte)(255 - i), outputs[i].U8[0]);
        }
    }

    [ModelSchema]
    public sealed class ZipIn { [ModelInput("float_input")] public float[] Features { get; set; } = []; }

    [ModelSchema]
    public sealed class ZipOut
    {
        [ModelOutput("output_label")] public long Label { get; set; }
        [ModelOutput("output_probability")] public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
    }

    [ModelSchema]
    public sealed class ZipArrayOut
    {
        [ModelOutput("output_probability")] public float[] Probabilities { get; set; } = [];
    }

    [Fact]
    public async Task ZipMapOutput_BindsToDictionaryAndToArray()
    {
        await using var sp = await TestModels.ProviderAsync(s =>
        {
            s.AddModel<ZipIn, ZipOut>("dict", o => o.Source = ModelSource.FromFile(TestModels.IrisZipMap));
            s.AddModel<ZipIn, ZipArrayOut>("array", o => o.Source = ModelSource.FromFile(TestModels.IrisZipMap));
            s.AddModel<IrisInput, IrisOutput>("tensor", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        });
        var inputs = new[] { IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica }.Select(f => new ZipIn { Features = f }).ToList();

        var dicts = await sp.GetRequiredKeyedService<IPredictor<ZipIn, ZipOut>>("dict").PredictBatchAsync(inputs);
        var arrays = await sp.GetRequiredKeyedService<IPredictor<ZipIn, ZipArrayOut>>("array").PredictBatchAsync(inputs);

        for (var i = 0; i < 3; i++)
        {
            var reference = await sp.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("tensor").PredictAsync(new IrisInput { Features = inputs[i].Features });
            Assert.Equal(i, dicts[i].Label);
            Assert.Equal([0L, 1L, 2L], dicts[i].Probabilities.Keys.OrderBy(k => k));
            Assert.Equal(reference.Probabilities, new[] { dicts[i].Probabilities[0], dicts[i].Probabilities[1], dicts[i].Probabilities[2] });
            Assert.Equal(reference.Probabilities, arrays[i].Probabilities);
        }
    }

    [Fact]
    public async Task FixedBatchModel_RunsBatchItemsOneByOne()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisFixed));
        var predictor = sp.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var outputs = await predictor.PredictBatchAsync([new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = IrisSamples.Versicolor }, new IrisInput { Features = IrisSamples.Virginica }]);

        Assert.Equal([0L, 1L, 2L], outputs.Select(o => o.Label));
    }

    [ModelSchema]
    public sealed class TextIn { public byte[] Bytes { get; set; } = []; }

    [ModelSchema]
    public sealed class TextOut { public float[] Scores { get; set; } = []; }

    [Fact]
    public async Task VariableLengthInput_ShapesEachRequestByItsLength()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<TextIn, TextOut>(TestModels.VariableLength));
        var predictor = sp.GetRequiredService<IPredictor<TextIn, TextOut>>();

        foreach (var length in new[] { 1, 5, 32 })
        {
            var bytes = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
            var output = await predictor.PredictAsync(new TextIn { Bytes = bytes });
            Assert.Equal(2 * length, output.Scores.Length);
            for (var t = 0; t < length; t++)
            {
                Assert.Equal(bytes[t] / 255f, output.Scores[2 * t], 5);
                Assert.Equal(1 - (bytes[t] / 255f), output.Scores[(2 * t) + 1], 5);
            }
        }

        var batch = await predictor.PredictBatchAsync([new TextIn { Bytes = [0, 255] }, new TextIn { Bytes = [255, 0] }]);
        Assert.Equal([0f, 1f, 1f, 0f], batch[0].Scores);
        Assert.Equal([1f, 0f, 0f, 1f], batch[1].Scores);
    }

    public sealed class ImageIn { public float[] Image { get; set; } = []; }

    public sealed class ImageOut { public float[] Logits { get; set; } = []; }

    [Fact]
    public async Task MultiDimensionalRow_IsAFlatArrayOfItsElements()
    {
        await using var sp = await TestModels.ProviderAsync(s => s.AddModel<ImageIn, ImageOut>(TestModels.ImageLike));
        var predictor = sp.GetRequiredService<IPredictor<ImageIn, ImageOut>>();
        var image = new float[784];
        for (var p = 0; p < image.Length; p++)
        {
            image[p] = p / 28 % 10 == 3 ? 1f : 0f; // light up the rows belonging to class 3
        }

        var output = await predictor.PredictAsync(new ImageIn { Image = image });

        Assert.Equal(10, output.Logits.Length);
        Assert.Equal(3, Array.IndexOf(output.Logits, output.Logits.Max()));
        Assert.Equal(1f + 0.03f, output.Logits[3], 4);
        var wrong = await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new ImageIn { Image = new float[28 * 28 - 1] }));
        Assert.Contains("expects 784 per row", wrong.Reason);
    }
}
