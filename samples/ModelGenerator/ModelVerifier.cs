using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.ModelGenerator;

/// <summary>
/// Loads each generated model in ONNX Runtime, runs it on known inputs and checks the outputs against the documented
/// semantics, so a model is never written (or accepted by --check) unless the runtime agrees with the README.
/// </summary>
internal static class ModelVerifier
{
    private static readonly float[] SetosaExample = [5.1f, 3.5f, 1.4f, 0.2f];
    private static readonly float[] VirginicaExample = [6.7f, 3.0f, 5.2f, 2.3f];

    public static void IrisMlp(byte[] model, IrisNetwork network)
    {
        using var session = new InferenceSession(model);

        // Every training row in one batch: probabilities must match the C# forward pass, labels their argmax.
        var n = IrisDataset.Count;
        var features = new float[n * 4];
        for (var r = 0; r < n; r++)
        {
            for (var i = 0; i < 4; i++)
            {
                features[(r * 4) + i] = (float)IrisDataset.Features(r)[i];
            }
        }

        using var outputs = Run(session, ("features", OrtValue.CreateTensorValueFromMemory(features, [n, 4])));
        var labels = outputs[0].GetTensorDataAsSpan<long>();
        var probabilities = outputs[1].GetTensorDataAsSpan<float>();
        Expect(labels.Length == n && probabilities.Length == n * 3, "iris_mlp: output sizes for a batch of 150");

        var correct = 0;
        for (var r = 0; r < n; r++)
        {
            var row = probabilities.Slice(r * 3, 3);
            var expected = network.Predict(features.AsSpan(r * 4, 4));
            for (var c = 0; c < 3; c++)
            {
                Expect(Math.Abs(row[c] - expected[c]) < 1e-4, $"iris_mlp: row {r} class {c}: runtime {row[c]} vs C# {expected[c]}");
            }

            Expect(labels[r] == ArgMax(row), $"iris_mlp: row {r}: label {labels[r]} is not the argmax of its probabilities");
            correct += labels[r] == IrisDataset.Label(r) ? 1 : 0;
        }

        Expect(correct >= 0.95 * n, $"iris_mlp: runtime accuracy {correct}/{n} is below 95%");
        ExpectIrisExamples(session, "features", batched: true);
    }

    public static void IrisMlpZipMap(byte[] model)
    {
        using var session = new InferenceSession(model);
        float[] features = [.. SetosaExample, .. VirginicaExample];
        using var outputs = Run(session, ("float_input", OrtValue.CreateTensorValueFromMemory(features, [2, 4])));
        Expect(outputs[0].GetTensorDataAsSpan<long>().SequenceEqual([0L, 2L]), "iris_mlp_zipmap: labels of the two examples");

        var sequence = outputs[1];
        Expect(sequence.OnnxType == OnnxValueType.ONNX_TYPE_SEQUENCE && sequence.GetValueCount() == 2, "iris_mlp_zipmap: a sequence of 2 maps");
        for (var r = 0; r < 2; r++)
        {
            using var map = sequence.GetValue(r, OrtAllocator.DefaultInstance);
            using var keys = map.GetValue(0, OrtAllocator.DefaultInstance);
            using var values = map.GetValue(1, OrtAllocator.DefaultInstance);
            Expect(keys.GetTensorDataAsSpan<long>().SequenceEqual([0L, 1L, 2L]), "iris_mlp_zipmap: map keys are 0, 1, 2");
            var p = values.GetTensorDataAsSpan<float>();
            Expect(Math.Abs(p[0] + p[1] + p[2] - 1f) < 1e-5, "iris_mlp_zipmap: probabilities sum to 1");
            Expect(ArgMax(p) == (r == 0 ? 0 : 2), "iris_mlp_zipmap: map argmax matches the example's class");
        }
    }

    public static void IrisMlpFixed(byte[] model)
    {
        using var session = new InferenceSession(model);
        ExpectIrisExamples(session, "features", batched: false);
    }

    private static void ExpectIrisExamples(InferenceSession session, string input, bool batched)
    {
        foreach (var (features, label) in new[] { (SetosaExample, 0L), (VirginicaExample, 2L) })
        {
            using var outputs = Run(session, (input, OrtValue.CreateTensorValueFromMemory(features, [1, 4])));
            Expect(outputs[0].GetTensorDataAsSpan<long>().SequenceEqual([label]), $"iris: [{Format(features)}] must give label {label}");
            var p = outputs[1].GetTensorDataAsSpan<float>();
            Expect(p.Length == 3 && Math.Abs(p[0] + p[1] + p[2] - 1f) < 1e-5 && p[(int)label] > 0.5f, "iris: probabilities");
        }

        if (batched)
        {
            float[] two = [.. SetosaExample, .. VirginicaExample];
            using var outputs = Run(session, (input, OrtValue.CreateTensorValueFromMemory(two, [2, 4])));
            Expect(outputs[0].GetTensorDataAsSpan<long>().SequenceEqual([0L, 2L]), "iris: a batch of the two examples");
        }
    }

    public static void MultiInput(byte[] model)
    {
        using var session = new InferenceSession(model);
        bool[] flags = [true, false];
        using var text = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [2, 1]);
        text.StringTensorSetElementAt("hello".AsSpan(), 0);
        text.StringTensorSetElementAt("wörld ✓".AsSpan(), 1);
        using var outputs = Run(
            session,
            ("f32", OrtValue.CreateTensorValueFromMemory(new[] { 1.5f, 2f, 3f, -1f, 0f, 0.25f }, [2, 3])),
            ("f64", OrtValue.CreateTensorValueFromMemory(new[] { 0.5, -2.0, 10.0, 0.125 }, [2, 2])),
            ("i32", OrtValue.CreateTensorValueFromMemory(new[] { 7, -3 }, [2, 1])),
            ("i64", OrtValue.CreateTensorValueFromMemory(new[] { 100L, 20L, -5L, 3_000_000_000L }, [2, 2])),
            ("u8", OrtValue.CreateTensorValueFromMemory(new byte[] { 0, 1, 128, 255, 10, 20, 30, 40 }, [2, 4])),
            ("flag", OrtValue.CreateTensorValueFromMemory(flags, [2, 1])),
            ("text", text));

        // Row 0: 6.5 + (-1.5) + 7 + 120 + 384 = 516 exactly. Row 1 shows float32 rounding: the row sums -0.75, 10.125,
        // -3, float(-5) + float(3e9) and 100 are added in that order in float32, which loses the small terms.
        var sum = outputs[0].GetTensorDataAsSpan<float>();
        var row1 = (((-0.75f + 10.125f) + -3f) + (-5f + 3e9f)) + 100f;
        Expect(sum.SequenceEqual([516f, row1]), $"multi_input: f32_sum [{Format(sum)}]");
        Expect(outputs[1].GetTensorDataAsSpan<double>().SequenceEqual([1.0, -4.0, 20.0, 0.25]), "multi_input: f64_out");
        Expect(outputs[2].GetTensorDataAsSpan<int>().SequenceEqual([8, -2]), "multi_input: i32_out");
        Expect(outputs[3].GetTensorDataAsSpan<long>().SequenceEqual([120L, 2_999_999_995L]), "multi_input: i64_out");
        Expect(outputs[4].GetTensorDataAsSpan<byte>().SequenceEqual(new byte[] { 255, 254, 127, 0, 245, 235, 225, 215 }), "multi_input: u8_out");
        Expect(outputs[5].GetTensorDataAsSpan<bool>().SequenceEqual([false, true]), "multi_input: flag_out");
        Expect(outputs[6].GetStringTensorAsArray().SequenceEqual(["hello", "wörld ✓"]), "multi_input: text_out");
    }

    public static void VariableLength(byte[] model)
    {
        using var session = new InferenceSession(model);
        foreach (var (batch, length) in new[] { (1, 1), (2, 5), (3, 17) })
        {
            var bytes = new byte[batch * length];
            for (var k = 0; k < bytes.Length; k++)
            {
                bytes[k] = (byte)((k * 37) + 11);
            }

            using var outputs = Run(session, ("bytes", OrtValue.CreateTensorValueFromMemory(bytes, [batch, length])));
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            Expect(shape.SequenceEqual([batch, length, 2L]), $"variable_length: shape for [{batch},{length}]");
            var scores = outputs[0].GetTensorDataAsSpan<float>();
            for (var k = 0; k < bytes.Length; k++)
            {
                var p = bytes[k] / 255f;
                Expect(scores[2 * k] == p && scores[(2 * k) + 1] == 1f - p, $"variable_length: element {k}");
            }
        }
    }

    public static void ImageLike(byte[] model)
    {
        using var session = new InferenceSession(model);

        // Image 0: all zero -> logits = bias. Image 1: row 3 all ones -> logit 3 = 28/84 + 0.03.
        // Image 2: pixel (r, c) = r / 27 -> logit j = mean of r/27 over rows r % 10 == j, plus j/100.
        var images = new float[3 * 784];
        for (var c = 0; c < 28; c++)
        {
            images[784 + (3 * 28) + c] = 1f;
        }

        for (var p = 0; p < 784; p++)
        {
            images[(2 * 784) + p] = p / 28 / 27f;
        }

        using var outputs = Run(session, ("image", OrtValue.CreateTensorValueFromMemory(images, [3, 1, 28, 28])));
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        for (var j = 0; j < 10; j++)
        {
            var rows = Enumerable.Range(0, 28).Where(r => r % 10 == j).ToArray();
            double[] expected = [j / 100.0, (j == 3 ? 1.0 / 3 : 0) + (j / 100.0), rows.Average(r => r / 27.0) + (j / 100.0)];
            for (var image = 0; image < 3; image++)
            {
                var actual = logits[(image * 10) + j];
                Expect(Math.Abs(actual - expected[image]) < 1e-5, $"image_like: image {image} logit {j}: {actual} vs {expected[image]}");
            }
        }
    }

    private static DisposableOutputs Run(InferenceSession session, params (string Name, OrtValue Value)[] inputs)
    {
        try
        {
            using var runOptions = new RunOptions();
            var feeds = inputs.ToDictionary(i => i.Name, i => i.Value);
            var results = session.Run(runOptions, feeds, session.OutputNames);
            return new DisposableOutputs(results);
        }
        finally
        {
            foreach (var (_, value) in inputs)
            {
                value.Dispose();
            }
        }
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var c = 1; c < values.Length; c++)
        {
            if (values[c] > values[best])
            {
                best = c;
            }
        }

        return best;
    }

    private static string Format(ReadOnlySpan<float> values)
    {
        var parts = new string[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            parts[i] = values[i].ToString(CultureInfo.InvariantCulture);
        }

        return string.Join(", ", parts);
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new ModelVerificationException($"ONNX Runtime check failed: {what}");
        }
    }

    /// <summary>Outputs of one run, in the session's output order, disposed together.</summary>
    private sealed class DisposableOutputs(IDisposableReadOnlyCollection<OrtValue> values) : IDisposable
    {
        public OrtValue this[int index] => values.ElementAt(index);

        public void Dispose() => values.Dispose();
    }
}

/// <summary>Thrown when ONNX Runtime disagrees with a model's documented semantics.</summary>
public sealed class ModelVerificationException : Exception
{
    public ModelVerificationException()
    {
    }

    public ModelVerificationException(string message)
        : base(message)
    {
    }

    public ModelVerificationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
