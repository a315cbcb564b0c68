using System.Globalization;
using System.Text.Json;

namespace ModelInService.TestUtilities;

/// <summary>
/// One input/expected-output case of a tabular <c>reference.json</c>: inputs as tensors, expected outputs as label
/// arrays or per-row probability maps (the shape sklearn-onnx's ZipMap produces).
/// </summary>
public sealed record ReferenceCase(
    IReadOnlyDictionary<string, TestTensor> Inputs,
    IReadOnlyDictionary<string, long[]> ExpectedLabels,
    IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyDictionary<long, float>>> ExpectedProbabilities);

/// <summary>The greedy-search reference of the tiny GPT-2 model (text/tiny_random_gpt2_fp32/reference.json).</summary>
public sealed record GreedySearchReference(long[][] InputIds, int MaxLength, long[][] ExpectedSequences);

/// <summary>
/// Readers for the <c>reference.json</c> files in the shared models folder. Two tabular layouts exist: a single case
/// (<c>{"inputs": ..., "expected": ...}</c>) and a list (<c>{"cases": [{"inputs": ..., "expected": ...}, ...]}</c>);
/// both come back as a list of <see cref="ReferenceCase"/>. An input is <c>{"dtype", "shape", "data"}</c>; an
/// expected output is either a list of integers (labels) or a list of <c>{"class": probability}</c> objects.
/// </summary>
public static class ReferenceJson
{
    public static IReadOnlyList<ReferenceCase> ReadTabularCases(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        return root.TryGetProperty("cases", out var cases)
            ? cases.EnumerateArray().Select(ReadCase).ToArray()
            : [ReadCase(root)];
    }

    public static GreedySearchReference ReadGreedySearch(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        static long[][] Rows(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        return new GreedySearchReference(
            Rows(root.GetProperty("input_ids")),
            root.GetProperty("max_length").GetInt32(),
            Rows(root.GetProperty("expected_sequences")));
    }

    /// <summary>Builds a tensor from <c>{"dtype": "float32", "shape": [1, 4], "data": [...]}</c>.</summary>
    public static TestTensor ReadTensor(string name, JsonElement element)
    {
        var dtype = element.GetProperty("dtype").GetString();
        var dims = element.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        var values = element.GetProperty("data").EnumerateArray().ToArray();
        return dtype switch
        {
            "float32" => new TestTensor(name, OnnxDataType.Float, dims, values.Select(v => v.GetSingle()).ToArray()),
            "float64" => new TestTensor(name, OnnxDataType.Double, dims, values.Select(v => v.GetDouble()).ToArray()),
            "int32" => new TestTensor(name, OnnxDataType.Int32, dims, values.Select(v => v.GetInt32()).ToArray()),
            "int64" => new TestTensor(name, OnnxDataType.Int64, dims, values.Select(v => v.GetInt64()).ToArray()),
            "uint8" => new TestTensor(name, OnnxDataType.UInt8, dims, values.Select(v => v.GetByte()).ToArray()),
            "bool" => new TestTensor(name, OnnxDataType.Bool, dims, values.Select(v => v.GetBoolean()).ToArray()),
            "string" => new TestTensor(name, OnnxDataType.String, dims, values.Select(v => v.GetString() ?? string.Empty).ToArray()),
            _ => throw new NotSupportedException($"reference.json input '{name}': dtype '{dtype}' is not supported."),
        };
    }

    private static ReferenceCase ReadCase(JsonElement element)
    {
        var inputs = new Dictionary<string, TestTensor>(StringComparer.Ordinal);
        foreach (var input in element.GetProperty("inputs").EnumerateObject())
        {
            inputs[input.Name] = ReadTensor(input.Name, input.Value);
        }

        var labels = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var probabilities = new Dictionary<string, IReadOnlyList<IReadOnlyDictionary<long, float>>>(StringComparer.Ordinal);
        foreach (var output in element.GetProperty("expected").EnumerateObject())
        {
            var items = output.Value.EnumerateArray().ToArray();
            if (items.All(i => i.ValueKind == JsonValueKind.Number))
            {
                labels[output.Name] = items.Select(i => i.GetInt64()).ToArray();
            }
            else if (items.All(i => i.ValueKind == JsonValueKind.Object))
            {
                probabilities[output.Name] = items
                    .Select(map => (IReadOnlyDictionary<long, float>)map.EnumerateObject().ToDictionary(
                        p => long.Parse(p.Name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                        p => p.Value.GetSingle()))
                    .ToArray();
            }
            else
            {
                throw new NotSupportedException($"reference.json expected output '{output.Name}' is neither labels nor probability maps.");
            }
        }

        return new ReferenceCase(inputs, labels, probabilities);
    }
}
