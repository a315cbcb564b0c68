using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelInService.ModelGenerator;

/// <summary>One dimension of a declared shape: a fixed size or a symbolic name such as "batch".</summary>
internal readonly record struct Dim(long Value, string? Param)
{
    public static implicit operator Dim(long value) => new(value, null);

    public static implicit operator Dim(string param) => new(0, param);

    public TensorShapeProto.Types.Dimension ToProto() =>
        Param is null
            ? new TensorShapeProto.Types.Dimension { DimValue = Value }
            : new TensorShapeProto.Types.Dimension { DimParam = Param };
}

/// <summary>
/// A small helper that builds an ONNX graph one node at a time with the OnnxSharp protobuf classes, then wraps it in a
/// model with this project's fixed header (IR version 8, producer "ModelInService.ModelGenerator").
/// Initializers are stored as little-endian raw_data, the form every exporter writes.
/// </summary>
internal sealed class GraphBuilder(string graphName)
{
    public const long IrVersion = 8;
    public const long OnnxOpset = 17;
    public const long OnnxMlOpset = 3;
    public const string OnnxMlDomain = "ai.onnx.ml";
    public const string ProducerName = "ModelInService.ModelGenerator";
    public const string ProducerVersion = "1.0";

    private readonly GraphProto _graph = new() { Name = graphName };
    private readonly Dictionary<string, int> _nodeCounts = [];
    private bool _usesOnnxMl;

    // ---- graph inputs and outputs ----

    public string Input(string name, DataType type, params Dim[] shape)
    {
        _graph.Input.Add(ValueInfo(name, TensorType(type, shape)));
        return name;
    }

    public void Output(string name, DataType type, params Dim[] shape) => Output(name, TensorType(type, shape));

    public void Output(string name, TypeProto type) => _graph.Output.Add(ValueInfo(name, type));

    public static TypeProto TensorType(DataType type, params Dim[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var dim in shape)
        {
            tensor.Shape.Dim.Add(dim.ToProto());
        }

        return new TypeProto { TensorType = tensor };
    }

    /// <summary>seq(map(int64, float)): the probability output of sklearn-onnx classifiers (ZipMap).</summary>
    public static TypeProto SequenceOfMapInt64ToFloat() => new()
    {
        SequenceType = new TypeProto.Types.Sequence
        {
            ElemType = new TypeProto
            {
                MapType = new TypeProto.Types.Map
                {
                    KeyType = (int)DataType.Int64,
                    ValueType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } },
                },
            },
        },
    };

    // ---- constants ----

    public string Initializer(string name, float[] values, params long[] dims) =>
        AddInitializer(name, DataType.Float, dims, values.Length, sizeof(float), (span, i) => BinaryPrimitives.WriteSingleLittleEndian(span, values[i]));

    public string Initializer(string name, double[] values, params long[] dims) =>
        AddInitializer(name, DataType.Double, dims, values.Length, sizeof(double), (span, i) => BinaryPrimitives.WriteDoubleLittleEndian(span, values[i]));

    public string Initializer(string name, int[] values, params long[] dims) =>
        AddInitializer(name, DataType.Int32, dims, values.Length, sizeof(int), (span, i) => BinaryPrimitives.WriteInt32LittleEndian(span, values[i]));

    public string Initializer(string name, long[] values, params long[] dims) =>
        AddInitializer(name, DataType.Int64, dims, values.Length, sizeof(long), (span, i) => BinaryPrimitives.WriteInt64LittleEndian(span, values[i]));

    private delegate void ElementWriter(Span<byte> destination, int index);

    private string AddInitializer(string name, DataType type, long[] dims, int count, int elementSize, ElementWriter write)
    {
        var expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count)
        {
            throw new ArgumentException($"Initializer '{name}' has {count} values but its shape [{string.Join(",", dims)}] needs {expected}.");
        }

        var bytes = new byte[count * elementSize];
        for (var i = 0; i < count; i++)
        {
            write(bytes.AsSpan(i * elementSize, elementSize), i);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return name;
    }

    // ---- nodes ----

    /// <summary>Adds a node with one output and returns the output's name, so calls can be nested.</summary>
    public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes) =>
        Node(opType, string.Empty, inputs, output, attributes);

    /// <summary>Adds a node of the ai.onnx.ml domain (the model then imports ai.onnx.ml opset 3).</summary>
    public string MlNode(string opType, string[] inputs, string output, params AttributeProto[] attributes)
    {
        _usesOnnxMl = true;
        return Node(opType, OnnxMlDomain, inputs, output, attributes);
    }

    private string Node(string opType, string domain, string[] inputs, string output, AttributeProto[] attributes)
    {
        _nodeCounts[opType] = _nodeCounts.GetValueOrDefault(opType) + 1;
        var node = new NodeProto { OpType = opType, Domain = domain, Name = $"{opType}_{_nodeCounts[opType]}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Strings(string name, params string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        foreach (var value in values)
        {
            attribute.Strings.Add(ByteString.CopyFromUtf8(value));
        }

        return attribute;
    }

    /// <summary>seq(map(string, float)): sklearn-onnx's ZipMap over string class labels.</summary>
    public static TypeProto SequenceOfMapStringToFloat() => new()
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
    };

    // ---- the model ----

    /// <summary>Wraps the graph in a model. Metadata keys keep the order given, so the bytes are stable.</summary>
    public ModelProto ToModel(string docString, params (string Key, string Value)[] metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersion,
            ModelVersion = 1,
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxOpset });
        if (_usesOnnxMl)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = OnnxMlDomain, Version = OnnxMlOpset });
        }

        foreach (var (key, value) in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model;
    }

    private static ValueInfoProto ValueInfo(string name, TypeProto type) => new() { Name = name, Type = type };
}
