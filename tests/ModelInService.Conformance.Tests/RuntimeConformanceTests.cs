using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// Runs the shared models in ONNX Runtime on the inputs the readers decode and compares with the expected outputs the
/// readers decode: a value-level check of the readers (a wrong byte order or field would not match).
/// </summary>
public sealed class RuntimeConformanceTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Node_tests_reproduce_their_expected_outputs()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var directories = OnnxTestCase.FindAll(SharedData.Model("node"));
        Assert.True(directories.Count >= 20, $"found only {directories.Count} node tests");

        var failures = new List<string>();
        foreach (var directory in directories)
        {
            var test = OnnxTestCase.Load(directory);
            using var session = new InferenceSession(test.ModelPath);
            var actual = OrtTensors.Run(session, test.Inputs);
            for (var i = 0; i < test.Outputs.Count; i++)
            {
                var expected = test.Outputs[i];
                var got = actual[session.OutputNames[i]];
                var problem = Compare(expected, got, relative: 1e-3, absolute: 1e-5);
                if (problem is not null)
                {
                    failures.Add($"{test.Name} output {i}: {problem}");
                }
            }

            output.WriteLine($"{test.Name}: {string.Join(", ", test.Inputs)} -> {string.Join(", ", test.Outputs)}");
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [SkippableFact]
    public void Xgboost_classifier_reproduces_io_npz()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "io.npz"));
        using var session = new InferenceSession(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "model.onnx"));

        var outputs = OrtTensors.Run(session, [arrays["input"]]);

        Assert.Null(Compare(arrays["probabilities"], outputs["probabilities"], relative: 1e-4, absolute: 1e-6));
        Assert.Equal([0L], outputs["label"].As<long>());
    }

    [SkippableFact]
    public void Nnsplit_reproduces_io_npz()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "io.npz"));
        using var session = new InferenceSession(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "model.onnx"));

        // The archive names the expected output after the exporter's node (Add_26), not the graph output.
        var outputs = OrtTensors.Run(session, [arrays["input"]]);

        Assert.Null(Compare(arrays["Add_26"], outputs[session.OutputNames[0]], relative: 1e-3, absolute: 1e-4));
    }

    [SkippableFact]
    public void Tabular_models_reproduce_their_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        foreach (var name in new[] { "yalue_sklearn_randomforest_iris", "ankane_lightgbm_iris", "ankane_randomforest_iris" })
        {
            using var session = new InferenceSession(SharedData.Model("tabular", name, "model.onnx"));
            foreach (var reference in ReferenceJson.ReadTabularCases(SharedData.Model("tabular", name, "reference.json")))
            {
                var feeds = reference.Inputs.ToDictionary(i => i.Key, i => OrtTensors.ToOrtValue(i.Value));
                try
                {
                    using var runOptions = new RunOptions();
                    using var results = session.Run(runOptions, feeds, session.OutputNames);
                    var byName = session.OutputNames.Zip(results).ToDictionary(p => p.First, p => p.Second);
                    foreach (var (output, labels) in reference.ExpectedLabels)
                    {
                        Assert.Equal(labels, byName[output].GetTensorDataAsSpan<long>().ToArray());
                    }

                    foreach (var (output, maps) in reference.ExpectedProbabilities)
                    {
                        var sequence = byName[output];
                        Assert.Equal(maps.Count, sequence.GetValueCount());
                        for (var row = 0; row < maps.Count; row++)
                        {
                            using var map = sequence.GetValue(row, OrtAllocator.DefaultInstance);
                            using var keys = map.GetValue(0, OrtAllocator.DefaultInstance);
                            using var values = map.GetValue(1, OrtAllocator.DefaultInstance);
                            var actual = keys.GetTensorDataAsSpan<long>().ToArray()
                                .Zip(values.GetTensorDataAsSpan<float>().ToArray())
                                .ToDictionary(p => p.First, p => p.Second);
                            foreach (var (key, probability) in maps[row])
                            {
                                Assert.Equal(probability, actual[key], 5);
                            }
                        }
                    }
                }
                finally
                {
                    foreach (var value in feeds.Values)
                    {
                        value.Dispose();
                    }
                }
            }
        }
    }

    /// <summary>Null when equal (exactly for integers, bools and strings; |a-e| &lt;= abs + rel*|e| for floats).</summary>
    private static string? Compare(TestTensor expected, TestTensor actual, double relative, double absolute)
    {
        if (!expected.Dims.SequenceEqual(actual.Dims) || expected.ElementType != actual.ElementType)
        {
            return $"expected {expected} but got {actual}";
        }

        if (expected.ElementType is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16)
        {
            var e = expected.ToDoubleArray();
            var a = actual.ToDoubleArray();
            for (var i = 0; i < e.Length; i++)
            {
                if (!(Math.Abs(a[i] - e[i]) <= absolute + (relative * Math.Abs(e[i]))))
                {
                    return $"element {i}: expected {e[i]}, got {a[i]}";
                }
            }

            return null;
        }

        return System.Collections.StructuralComparisons.StructuralEqualityComparer.Equals(expected.Data, actual.Data)
            ? null
            : $"{expected.ElementType} values differ";
    }
}
