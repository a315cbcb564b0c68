using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// End-to-end sanity of the readers: mnist-8 must classify the shared digit-7 array as 7 and mnist5.png as 5, which
/// only happens if the .npy values and the PNG decoding (channels, alpha, scaling to [0,1]) are right.
/// </summary>
public sealed class MnistTests
{
    private const string InputName = "Input3";
    private const string OutputName = "Plus214_Output_0";

    [SkippableFact]
    public void Digit7_npy_is_float32_784_in_unit_range()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var digit = NpyReader.Read(SharedData.Model("mnist", "digit7_784f32.npy"));

        Assert.Equal(OnnxDataType.Float, digit.ElementType);
        Assert.Equal([784L], digit.Dims);
        var pixels = digit.As<float>();
        Assert.All(pixels, p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(1f, pixels.Max());
    }

    [SkippableFact]
    public void Mnist5_png_decodes_to_28x28_in_unit_range()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var image = PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png"));

        Assert.Equal(28, image.Width);
        Assert.Equal(28, image.Height);
        Assert.Equal(784, image.Pixels.Length);
        Assert.All(image.Pixels, p => Assert.InRange(p, 0f, 1f));

        // A light digit on a dark background, like MNIST itself: most pixels are dark, the stroke is bright.
        Assert.True(image.Pixels.Count(p => p < 0.1f) > 600, "expected a mostly dark background");
        Assert.True(image.Pixels.Max() > 0.75f, "expected a bright stroke");
    }

    [SkippableFact]
    public void Mnist8_classifies_digit7_npy_as_7()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var digit = NpyReader.Read(SharedData.Model("mnist", "digit7_784f32.npy"));

        Assert.Equal(7, Classify(digit.As<float>()));
    }

    [SkippableFact]
    public void Mnist8_classifies_mnist5_png_as_5()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var image = PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png"));

        Assert.Equal(5, Classify(image.Pixels));
    }

    [SkippableFact]
    public void Mnist8_setdim_classifies_a_batch_of_both_digits()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var seven = NpyReader.Read(SharedData.Model("mnist", "digit7_784f32.npy")).As<float>();
        var five = PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png")).Pixels;

        using var session = new InferenceSession(SharedData.Model("mnist", "mnist-8-setdim.onnx"));
        float[] both = [.. seven, .. five];
        var batch = new TestTensor(InputName, OnnxDataType.Float, [2, 1, 28, 28], both);
        var logits = OrtTensors.Run(session, [batch])[OutputName];

        Assert.Equal([2L, 10L], logits.Dims);
        var values = logits.As<float>();
        Assert.Equal(7, ArgMax(values.AsSpan(0, 10)));
        Assert.Equal(5, ArgMax(values.AsSpan(10, 10)));
    }

    [SkippableFact]
    public void Mnist5_png_pixels_match_an_independent_decoding()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var image = PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png"));

        // The file is 8-bit RGBA with R = G = B. Values below were read with Python's zlib and a hand-written unfilter:
        // (x, y, grey, alpha); the reader composites over black, so the expected pixel is grey/255 * alpha/255.
        (int X, int Y, int Grey, int Alpha)[] samples =
        [
            (0, 0, 255, 0), // transparent border
            (2, 1, 132, 240), // the semi-transparent line along the top (a screenshot edge)
            (8, 7, 1, 255), // background inside the frame
            (10, 7, 205, 255), // the stroke of the 5
            (9, 7, 100, 255),
        ];
        foreach (var (x, y, grey, alpha) in samples)
        {
            Assert.Equal(grey / 255f * (alpha / 255f), image[x, y], 5);
        }
    }

    [SkippableFact]
    public void Mnist5_png_needs_no_inversion()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var image = PngGrayReader.Read(SharedData.Model("mnist", "mnist5.png"));

        // mnist-8 says 5 for the inverted image too, so the class alone cannot tell; the decoded (light-on-dark)
        // image is the more confident one, as MNIST digits are light on dark.
        var asDecoded = Softmax(Logits(image.Pixels))[5];
        var inverted = Softmax(Logits(image.Inverted().Pixels))[5];
        Assert.True(asDecoded > 0.7, $"p(5) = {asDecoded}");
        Assert.True(asDecoded > inverted, $"p(5) as decoded {asDecoded} <= inverted {inverted}");
    }

    private static double[] Softmax(float[] logits)
    {
        var max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        var sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }

    private static int Classify(float[] pixels) => ArgMax(Logits(pixels));

    private static float[] Logits(float[] pixels)
    {
        using var session = new InferenceSession(SharedData.Model("mnist", "mnist-8.onnx"));
        var input = new TestTensor(InputName, OnnxDataType.Float, [1, 1, 28, 28], pixels);
        var logits = OrtTensors.Run(session, [input])[OutputName];
        Assert.Equal([1L, 10L], logits.Dims);
        return logits.As<float>();
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
