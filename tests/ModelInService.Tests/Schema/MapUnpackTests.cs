using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Schema;
using ModelInService.TestUtilities;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelInService.Tests.Schema;

/// <summary>
/// <c>seq(map)</c> (sklearn-onnx ZipMap) outputs are read through the C API with the keys taken once from row 0. These
/// tests compare that path with a reading through the plain managed <see cref="OrtValue"/> API, and check that maps
/// whose keys differ between rows take the per-row path.
/// </summary>
public sealed class MapUnpackTests
{
    public static readonly TheoryData<int> BatchSizes = new() { 1, 2, 64 };

    public sealed class LongMap
    {
        public IReadOnlyDictionary<long, float> Map { get; set; } = new Dictionary<long, float>();
    }

    public sealed class LongArray
    {
        public float[] Values { get; set; } = [];
    }

    public sealed class StringMap
    {
        public IReadOnlyDictionary<string, float> Map { get; set; } = new Dictionary<string, float>();
    }

    [Fact]
    public void TheCApiIsReachable()
    {
        // Otherwise every other test here only exercises the fallback.
        Assert.NotNull(OrtMapApi.Instance);
    }

    [Theory]
    [MemberData(nameof(BatchSizes))]
    public void Int64Keys_SampleZipMap_MatchesTheManagedApi(int rows)
    {
        using var session = new InferenceSession(TestModels.IrisZipMap);
        using var output = RunZipMap(session, "float_input", 4, rows, "output_probability");
        var expected = ReadWithManagedApi<long, float>(output);
        Assert.All(expected, map => Assert.Equal(new long[] { 0, 1, 2 }, map.Keys.Order()));

        var maps = Unpack<LongMap, long, float>(output, rows, fast: true);
        AssertSame(expected, maps.Select(m => m.Map).ToList());

        var arrays = Unpack<LongArray, long, float>(output, rows, fast: true);
        Assert.Equal(expected.Select(m => m.OrderBy(p => p.Key).Select(p => p.Value).ToArray()), arrays.Select(a => a.Values));
    }

    [Theory]
    [MemberData(nameof(BatchSizes))]
    public void StringKeys_MatchTheManagedApi(int rows)
    {
        // Keys out of order, a non-ASCII one and an empty one: the map's order is the runtime's, not the attribute's.
        string[] labels = ["virginica", "setosa", "é-versicolor", ""];
        using var session = new InferenceSession(StringZipMapModel(labels));
        using var output = RunZipMap(session, "x", labels.Length, rows, "probabilities");
        var expected = ReadWithManagedApi<string, float>(output);
        Assert.All(expected, map => Assert.Equal(labels.Order(StringComparer.Ordinal), map.Keys.Order(StringComparer.Ordinal)));

        var maps = Unpack<StringMap, string, float>(output, rows, fast: true);
        AssertSame(expected, maps.Select(m => m.Map).ToList());

        // The rows share the key strings decoded once.
        if (rows > 1)
        {
            Assert.Same(maps[0].Map.Keys.First(), maps[1].Map.Keys.First());
        }
    }

    [Fact]
    public void DifferentKeysPerRow_Int64_FallsBackToThePerRowPath()
    {
        // Same count, different keys; then a different count.
        using var sameCount = Sequence(OrtValue.CreateMap(new long[] { 1, 2 }, new float[] { 0.25f, 0.75f }), OrtValue.CreateMap(new long[] { 1, 3 }, new float[] { 0.5f, 0.5f }));
        using var otherCount = Sequence(OrtValue.CreateMap(new long[] { 1, 2 }, new float[] { 0.25f, 0.75f }), OrtValue.CreateMap(new long[] { 1, 2, 3 }, new float[] { 0.1f, 0.2f, 0.7f }));
        foreach (var value in new[] { sameCount, otherCount })
        {
            var expected = ReadWithManagedApi<long, float>(value);
            Assert.Equal(2, expected.Count);
            Assert.NotEqual(expected[0].Keys.Order(), expected[1].Keys.Order());
            AssertSame(expected, Unpack<LongMap, long, float>(value, 2, fast: true, expectFast: false).Select(m => m.Map).ToList());
            AssertSame(expected, Unpack<LongMap, long, float>(value, 2, fast: false).Select(m => m.Map).ToList());
        }
    }

    [Fact]
    public void DifferentKeysPerRow_String_FallsBackToThePerRowPath()
    {
        using var sameCount = Sequence(OrtValue.CreateMapWithStringKeys(["a", "b"], new float[] { 0.25f, 0.75f }), OrtValue.CreateMapWithStringKeys(["a", "c"], new float[] { 0.5f, 0.5f }));
        using var sameBytes = Sequence(OrtValue.CreateMapWithStringKeys(["ab", "c"], new float[] { 0.25f, 0.75f }), OrtValue.CreateMapWithStringKeys(["a", "bc"], new float[] { 0.5f, 0.5f }));
        using var sameKeys = Sequence(OrtValue.CreateMapWithStringKeys(["a", "b"], new float[] { 0.25f, 0.75f }), OrtValue.CreateMapWithStringKeys(["b", "a"], new float[] { 0.5f, 0.5f }));
        foreach (var (value, fast) in new[] { (sameCount, false), (sameBytes, false), (sameKeys, true) })
        {
            var expected = ReadWithManagedApi<string, float>(value);
            var maps = Unpack<StringMap, string, float>(value, 2, fast: true, expectFast: fast);
            AssertSame(expected, maps.Select(m => m.Map).ToList());
            var perRow = Unpack<StringMap, string, float>(value, 2, fast: false);
            AssertSame(expected, perRow.Select(m => m.Map).ToList());
        }
    }

    [Fact]
    public void NonFiniteValues_AreReportedPerRow_OnTheFastPath()
    {
        using var value = Sequence(OrtValue.CreateMap(new long[] { 0, 1 }, new float[] { 0.5f, 0.5f }), OrtValue.CreateMap(new long[] { 0, 1 }, new float[] { float.NaN, 1f }));
        var binder = Binder<LongMap, long, float>();
        var results = new[] { new LongMap(), new LongMap() };
        ModelNonFiniteOutputException?[]? failures = null;
        Assert.True(binder.TryUnpackShared(value, results, 2, ref failures));
        Assert.NotNull(failures);
        Assert.Null(failures[0]);
        Assert.NotNull(failures[1]);
        Assert.Equal(0.5f, results[0].Map[1]);
    }

    [SkippableTheory]
    [InlineData("tabular/yalue_sklearn_randomforest_iris/model.onnx")]
    [InlineData("tabular/ankane_randomforest_iris/model.onnx")]
    [InlineData("tabular/ankane_lightgbm_iris/model.onnx")]
    [InlineData("tabular/skl2onnx_docs/rf_iris.onnx")]
    [InlineData("tabular/skl2onnx_docs/logreg_iris.onnx")]
    [InlineData("tabular/skl2onnx_docs/pipeline_lightgbm.onnx")]
    [InlineData("tabular/skl2onnx_docs/pipeline_xgboost.onnx")]
    public void ThirdPartyZipMaps_MatchTheManagedApi(string model)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var path = SharedData.Model(model.Split('/'));
        Skip.IfNot(File.Exists(path), $"{path} is not in this copy of the shared folder");

        using var session = new InferenceSession(path);
        var input = session.InputNames[0];
        var dimensions = session.InputMetadata[input].Dimensions;
        var features = checked((int)dimensions[^1]);
        var name = session.OutputNames.Single(n => session.OutputMetadata[n].OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE);

        // The ankane models declare a fixed batch of one.
        foreach (var rows in dimensions[0] > 0 ? [dimensions[0]] : new[] { 1, 2, 64 })
        {
            using var output = RunZipMap(session, input, features, rows, name);
            var expected = ReadWithManagedApi<long, float>(output);
            var maps = Unpack<LongMap, long, float>(output, rows, fast: true);
            AssertSame(expected, maps.Select(m => m.Map).ToList());
        }
    }

    /// <summary>Unpacks with the binder: the C API path (<paramref name="fast"/>, asserting it was taken or not) or the per-row one.</summary>
    private static TOut[] Unpack<TOut, TKey, TValue>(OrtValue value, int rows, bool fast, bool expectFast = true)
        where TOut : new()
        where TKey : notnull
        where TValue : unmanaged
    {
        var binder = Binder<TOut, TKey, TValue>();
        var results = Enumerable.Range(0, rows).Select(_ => new TOut()).ToArray();
        ModelNonFiniteOutputException?[]? failures = null;
        if (fast)
        {
            var taken = binder.TryUnpackShared(value, results, rows, ref failures);
            Assert.Equal(expectFast, taken);
            if (!taken)
            {
                // Nothing was written; the public entry point then gives the per-row answer.
                Assert.Null(failures);
                binder.Unpack(value, results, rows, ref failures);
            }
        }
        else
        {
            binder.UnpackPerRow(value, results, rows, ref failures);
        }

        Assert.Null(failures);
        return results;
    }

    private static MapOutputBinder<TOut, TKey, TValue> Binder<TOut, TKey, TValue>()
        where TKey : notnull
        where TValue : unmanaged
    {
        var spec = new TensorSpec("output", ModelValueKind.SequenceOfMaps, ModelElementTypes.FromClr(typeof(TValue)), [-1], [string.Empty], ModelElementTypes.FromClr(typeof(TKey)));
        return new MapOutputBinder<TOut, TKey, TValue>("m", spec, MemberModel.ForOutput(typeof(TOut))[0]);
    }

    /// <summary>The reference: the plain managed API, three <see cref="OrtValue"/>s per row.</summary>
    private static List<Dictionary<TKey, TValue>> ReadWithManagedApi<TKey, TValue>(OrtValue sequence)
        where TKey : notnull
        where TValue : unmanaged
    {
        var list = new List<Dictionary<TKey, TValue>>();
        var allocator = OrtAllocator.DefaultInstance;
        for (var r = 0; r < sequence.GetValueCount(); r++)
        {
            using var map = sequence.GetValue(r, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var v = values.GetTensorDataAsSpan<TValue>();
            var dictionary = new Dictionary<TKey, TValue>();
            for (var i = 0; i < v.Length; i++)
            {
                var key = typeof(TKey) == typeof(string) ? (TKey)(object)keys.GetStringElement(i) : (TKey)(object)keys.GetTensorDataAsSpan<long>()[i];
                dictionary.Add(key, v[i]);
            }

            list.Add(dictionary);
        }

        return list;
    }

    private static void AssertSame<TKey, TValue>(List<Dictionary<TKey, TValue>> expected, List<IReadOnlyDictionary<TKey, TValue>> actual)
        where TKey : notnull
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var r = 0; r < expected.Count; r++)
        {
            Assert.Equal(expected[r].Count, actual[r].Count);
            foreach (var (key, value) in expected[r])
            {
                Assert.True(actual[r].TryGetValue(key, out var got), $"row {r}: key '{key}' missing");
                Assert.Equal(value, got);
            }
        }
    }

    /// <summary>Runs a ZipMap model on <paramref name="rows"/> rows of varied features and returns the seq(map) output.</summary>
    private static OrtValue RunZipMap(InferenceSession session, string input, int features, int rows, string output)
    {
        var data = new float[rows * features];
        var random = new Random(rows);
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)(random.NextDouble() * 7);
        }

        using var tensor = OrtValue.CreateTensorValueFromMemory(data, [rows, features]);
        using var runOptions = new RunOptions();
        var results = session.Run(runOptions, [input], [tensor], [output]);
        var value = results[0];
        return value;
    }

    /// <summary>seq(map): the runtime supports map(int64, float) and map(string, float) elements only. Takes the maps over.</summary>
    private static OrtValue Sequence(params OrtValue[] maps) => OrtValue.CreateSequence(new List<OrtValue>(maps));

    /// <summary>x float32 [N, labels] → ZipMap(classlabels_strings) → seq(map(string, float)).</summary>
    private static byte[] StringZipMapModel(string[] labels)
    {
        var graph = new GraphProto { Name = "string_zipmap" };
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = Tensor(DataType.Float, labels.Length) });
        var node = new NodeProto { OpType = "ZipMap", Domain = "ai.onnx.ml", Name = "ZipMap_1" };
        node.Input.Add("x");
        node.Output.Add("probabilities");
        var attribute = new AttributeProto { Name = "classlabels_strings", Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(labels.Select(ByteString.CopyFromUtf8));
        node.Attribute.Add(attribute);
        graph.Node.Add(node);
        graph.Output.Add(new ValueInfoProto
        {
            Name = "probabilities",
            Type = new TypeProto
            {
                SequenceType = new TypeProto.Types.Sequence
                {
                    ElemType = new TypeProto
                    {
                        MapType = new TypeProto.Types.Map
                        {
                            KeyType = (int)DataType.String,
                            ValueType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } },
                        },
                    },
                },
            },
        });
        var model = new ModelProto { IrVersion = 8, ProducerName = "MapUnpackTests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 3 });
        return model.ToByteArray();
    }

    private static TypeProto Tensor(DataType type, int columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } };
    }
}
