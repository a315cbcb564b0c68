using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>A 28x28 grey image flattened row-major: mnist's Input3 ([1,1,28,28] or [N,1,28,28]).</summary>
public sealed class MnistImage
{
    [ModelInput("Input3")]
    public float[] Pixels { get; set; } = [];
}

/// <summary>The ten logits (Plus214_Output_0).</summary>
public sealed class MnistLogits
{
    [ModelOutput("Plus214_Output_0")]
    public float[] Logits { get; set; } = [];

    public int Digit => LibraryHarness.ArgMax(Logits);
}

/// <summary>mnist-8 (fixed batch 1) and mnist-8-setdim (free batch) through <see cref="IPredictor{TInput, TOutput}"/>.</summary>
public sealed class LibraryMnistTests
{
    public static TheoryData<string> Models => new() { "mnist-8.onnx", "mnist-8-setdim.onnx" };

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public async Task Classifies_digit7_npy_as_7(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor) = await StartAsync(file);
        await using var _ = provider;

        var output = await predictor.PredictAsync(new MnistImage { Pixels = Seven() });

        Assert.Equal(10, output.Logits.Length);
        Assert.Equal(7, output.Digit);
    }

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public async Task Classifies_mnist5_png_as_5(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor) = await StartAsync(file);
        await using var _ = provider;

        var output = await predictor.PredictAsync(new MnistImage { Pixels = Five() });

        Assert.Equal(10, output.Logits.Length);
        Assert.Equal(5, output.Digit);
    }

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public async Task Batch_of_both_digits_gives_7_then_5_and_matches_single_predictions(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor) = await StartAsync(file);
        await using var _ = provider;
        MnistImage[] images = [new() { Pixels = Seven() }, new() { Pixels = Five() }];

        var batch = await predictor.PredictBatchAsync(images);

        Assert.Equal([7, 5], batch.Select(o => o.Digit));
        for (var i = 0; i < images.Length; i++)
        {
            var single = await predictor.PredictAsync(images[i]);
            LibraryHarness.AssertClose(single.Logits, batch[i].Logits, 1e-4, $"{file} item {i} logits");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public async Task Concurrent_callers_each_get_their_own_digit(string file)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, predictor) = await LibraryHarness.StartTypedAsync<MnistImage, MnistLogits>(
            Path.GetFileNameWithoutExtension(file), SharedData.Model("mnist", file), o => o.MaxConcurrency = 2);
        await using var _ = provider;
        var seven = Seven();
        var five = Five();

        var calls = Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            var digit = (await predictor.PredictAsync(new MnistImage { Pixels = i % 2 == 0 ? seven : five })).Digit;
            return (Expected: i % 2 == 0 ? 7 : 5, Actual: digit);
        })).ToArray();
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.Equal(r.Expected, r.Actual));
    }

    private static Task<(Microsoft.Extensions.DependencyInjection.ServiceProvider Provider, IPredictor<MnistImage, MnistLogits> Predictor)> StartAsync(string file) =>
        LibraryHarness.StartTypedAsync<MnistImage, MnistLogits>(Path.GetFileNameWithoutExtension(file), SharedData.Model("mnist", file));

    internal static float[] Seven() => NpyReader.Read(SharedData.Model("mnist", "digit7_784f32.npy")).As<float>();

    /// <summary>Decoded as <see cref="MnistTests"/> does: composited over black, light digit on dark, in [0,1].</summary>
    internal static float[] Five() => PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png")).Pixels;
}
