using System.Text;

namespace ModelInService.Sessions;

/// <summary>
/// Removes sklearn-onnx's <c>ZipMap</c> nodes from a model before it is loaded, so that the session returns the
/// classifier's probability tensor and the maps are built in managed code from it.
/// </summary>
/// <remarks>
/// <para>
/// A ZipMap turns a float tensor <c>[N,C]</c> into a sequence of N maps with the same C keys (its class labels).
/// ONNX Runtime builds one <c>std::map</c> per row and the caller reads each back through three native values per
/// row; on small classifiers that costs as much as the trees (docs/performance.md). The values are the tensor's,
/// unchanged: removing the node and rebuilding the maps from the tensor and the node's labels gives the same
/// result.
/// </para>
/// <para>
/// The model is edited at the protobuf wire level: the graph's fields are copied byte for byte except the ZipMap
/// nodes (dropped), their graph outputs (replaced by the ZipMap's input tensor) and <c>value_info</c> entries naming
/// those outputs (dropped). A ZipMap is kept when removing it could change anything: its output feeds another node,
/// it is not a graph output, its labels repeat, the graph has subgraphs, or an initializer's data is external (the
/// edited model is loaded from memory, where external files cannot be resolved).
/// </para>
/// </remarks>
internal static class ZipMapRemoval
{
    /// <summary>Models larger than this are not read to look for a ZipMap (sklearn classifiers are far smaller).</summary>
    internal const long MaxModelBytes = 512L * 1024 * 1024;

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLength = 2;
    private const int WireFixed32 = 5;

    /// <summary>The edited model and what it removed.</summary>
    /// <param name="Model">The model's bytes without the removed ZipMap nodes.</param>
    /// <param name="Removed">Each removed map output by name, with how to rebuild it.</param>
    /// <param name="GraphOutputs">The original graph's outputs in order (the signature keeps this order).</param>
    internal sealed record Result(byte[] Model, IReadOnlyDictionary<string, (ZipMapSource Source, ModelElementType KeyType)> Removed, IReadOnlyList<string> GraphOutputs);

    /// <summary>
    /// Returns the model without its removable ZipMap nodes, or null when it has none; <paramref name="kept"/> then says
    /// why a ZipMap that exists was kept (null when there is none or the bytes are not a model this can read).
    /// </summary>
    public static Result? TryRemove(byte[] model, out string? kept)
    {
        kept = null;
        if (model.AsSpan().IndexOf("ZipMap"u8) < 0)
        {
            return null;
        }

        try
        {
            return Remove(model, out kept);
        }
        catch (FormatException)
        {
            return null; // Not protobuf this reader understands: ONNX Runtime will say what is wrong with it.
        }
    }

    private static Result? Remove(byte[] model, out string? kept)
    {
        kept = null;
        var top = Fields(model, 0, model.Length);
        var graphField = -1;
        for (var i = 0; i < top.Count; i++)
        {
            if (top[i].Number == 7 && top[i].Wire == WireLength)
            {
                if (graphField >= 0)
                {
                    return null; // Two graph fields (protobuf would merge them): not what exporters write.
                }

                graphField = i;
            }
        }

        if (graphField < 0)
        {
            return null;
        }

        var g = top[graphField];
        var graph = Fields(model, g.PayloadStart, g.PayloadEnd);
        var nodes = new List<Node>();
        var graphInputs = new HashSet<string>(StringComparer.Ordinal);
        var graphOutputs = new List<string>();
        foreach (var f in graph)
        {
            switch (f.Number)
            {
                case 1 when f.Wire == WireLength:
                    nodes.Add(ReadNode(model, f));
                    break;
                case 5 when f.Wire == WireLength && IsExternal(model, f):
                    kept = "an initializer keeps its data in an external file";
                    break;
                case 11 when f.Wire == WireLength:
                    graphInputs.Add(ReadName(model, f));
                    break;
                case 12 when f.Wire == WireLength:
                    graphOutputs.Add(ReadName(model, f));
                    break;
            }
        }

        var zipMaps = new List<int>();
        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].OpType == "ZipMap" && nodes[i].Domain == "ai.onnx.ml")
            {
                zipMaps.Add(i);
            }
        }

        if (zipMaps.Count == 0)
        {
            kept = null;
            return null;
        }

        if (kept is not null)
        {
            return null;
        }

        foreach (var node in nodes)
        {
            if (node.HasSubgraph)
            {
                kept = $"node '{node.Name}' ({node.OpType}) has a subgraph";
                return null;
            }
        }

        var removed = new Dictionary<string, (ZipMapSource, ModelElementType)>(StringComparer.Ordinal);
        var removedNodes = new HashSet<int>();
        var reasons = new List<string>();
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var index in zipMaps)
        {
            var zip = nodes[index];
            var why = Check(zip, index, nodes, graphInputs, graphOutputs);
            if (why is null && !tensors.Add(zip.Inputs[0]))
            {
                why = $"another ZipMap reads the same tensor '{zip.Inputs[0]}'";
            }

            if (why is not null)
            {
                reasons.Add($"ZipMap '{zip.Name}': {why}");
                continue;
            }

            var source = Source(zip);
            if (source is null)
            {
                reasons.Add($"ZipMap '{zip.Name}': its class labels are missing or repeat");
                continue;
            }

            removed[zip.Outputs[0]] = (source, zip.Int64Labels is not null ? ModelElementType.Int64 : ModelElementType.String);
            removedNodes.Add(index);
        }

        kept = reasons.Count > 0 ? string.Join("; ", reasons) : null;
        if (removed.Count == 0)
        {
            return null;
        }

        var edited = new List<byte[]>(graph.Count);
        var nodeIndex = 0;
        var size = 0;
        foreach (var f in graph)
        {
            byte[]? piece;
            if (f.Number == 1 && f.Wire == WireLength)
            {
                piece = removedNodes.Contains(nodeIndex++) ? null : model.AsSpan(f.Start, f.End - f.Start).ToArray();
            }
            else if (f.Number == 12 && f.Wire == WireLength && removed.TryGetValue(ReadName(model, f), out var zip))
            {
                piece = FloatTensorOutput(12, zip.Item1.TensorName);
            }
            else if (f.Number == 13 && f.Wire == WireLength && removed.ContainsKey(ReadName(model, f)))
            {
                piece = null;
            }
            else
            {
                piece = model.AsSpan(f.Start, f.End - f.Start).ToArray();
            }

            if (piece is not null)
            {
                edited.Add(piece);
                size += piece.Length;
            }
        }

        var graphBytes = new byte[size];
        var at = 0;
        foreach (var piece in edited)
        {
            piece.CopyTo(graphBytes, at);
            at += piece.Length;
        }

        using var result = new MemoryStream(model.Length);
        foreach (var f in top)
        {
            if (f.Number == 7 && f.Wire == WireLength)
            {
                WriteVarint(result, (7UL << 3) | WireLength);
                WriteVarint(result, (ulong)graphBytes.Length);
                result.Write(graphBytes);
            }
            else
            {
                result.Write(model.AsSpan(f.Start, f.End - f.Start));
            }
        }

        return new Result(result.ToArray(), removed, graphOutputs);
    }

    private static string? Check(Node zip, int index, List<Node> nodes, HashSet<string> graphInputs, List<string> graphOutputs)
    {
        if (zip.Inputs.Count != 1 || zip.Outputs.Count != 1 || zip.Inputs[0].Length == 0)
        {
            return "it does not have one input and one output";
        }

        var output = zip.Outputs[0];
        if (!graphOutputs.Contains(output))
        {
            return $"its output '{output}' is not a graph output";
        }

        if (graphInputs.Contains(zip.Inputs[0]) || graphOutputs.Contains(zip.Inputs[0]))
        {
            return $"its input '{zip.Inputs[0]}' is a graph input or output";
        }

        for (var i = 0; i < nodes.Count; i++)
        {
            if (i != index && nodes[i].Inputs.Contains(output))
            {
                return $"its output '{output}' feeds node '{nodes[i].Name}' ({nodes[i].OpType})";
            }
        }

        return null;
    }

    /// <summary>The labels in map order (ascending, as <c>std::map</c> orders them) and each one's tensor column.</summary>
    private static ZipMapSource? Source(Node zip)
    {
        if (zip.Int64Labels is { Count: > 0 } ints && zip.StringLabels is null or { Count: 0 })
        {
            var keys = ints.ToArray();
            var columns = new int[keys.Length];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = i;
            }

            Array.Sort(keys, columns);
            for (var i = 1; i < keys.Length; i++)
            {
                if (keys[i] == keys[i - 1])
                {
                    return null;
                }
            }

            return new ZipMapSource(zip.Inputs[0], keys, null, columns);
        }

        if (zip.StringLabels is { Count: > 0 } strings && zip.Int64Labels is null or { Count: 0 })
        {
            var columns = new int[strings.Count];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = i;
            }

            // std::string compares bytes as unsigned char: ordinal over UTF-8, not over UTF-16.
            Array.Sort(columns, (a, b) => strings[a].AsSpan().SequenceCompareTo(strings[b]));
            var keys = new string[columns.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                if (i > 0 && strings[columns[i]].AsSpan().SequenceEqual(strings[columns[i - 1]]))
                {
                    return null;
                }

                keys[i] = Encoding.UTF8.GetString(strings[columns[i]]);
            }

            return new ZipMapSource(zip.Inputs[0], null, keys, columns);
        }

        return null;
    }

    /// <summary>A graph output (or value_info) field: <c>name</c> with type <c>tensor(float)</c>, shape left to inference.</summary>
    private static byte[] FloatTensorOutput(int fieldNumber, string name)
    {
        using var tensorType = new MemoryStream();
        WriteVarint(tensorType, (1UL << 3) | WireVarint); // TypeProto.Tensor.elem_type
        WriteVarint(tensorType, 1); // FLOAT
        using var type = new MemoryStream();
        WriteLengthField(type, 1, tensorType.ToArray()); // TypeProto.tensor_type
        using var info = new MemoryStream();
        WriteLengthField(info, 1, Encoding.UTF8.GetBytes(name)); // ValueInfoProto.name
        WriteLengthField(info, 2, type.ToArray()); // ValueInfoProto.type
        using var field = new MemoryStream();
        WriteLengthField(field, fieldNumber, info.ToArray());
        return field.ToArray();
    }

    private static Node ReadNode(byte[] model, Field node)
    {
        var result = new Node();
        foreach (var f in Fields(model, node.PayloadStart, node.PayloadEnd))
        {
            switch (f.Number)
            {
                case 1 when f.Wire == WireLength:
                    result.Inputs.Add(Utf8(model, f));
                    break;
                case 2 when f.Wire == WireLength:
                    result.Outputs.Add(Utf8(model, f));
                    break;
                case 3 when f.Wire == WireLength:
                    result.Name = Utf8(model, f);
                    break;
                case 4 when f.Wire == WireLength:
                    result.OpType = Utf8(model, f);
                    break;
                case 7 when f.Wire == WireLength:
                    result.Domain = Utf8(model, f);
                    break;
                case 5 when f.Wire == WireLength:
                    ReadAttribute(model, f, result);
                    break;
            }
        }

        return result;
    }

    private static void ReadAttribute(byte[] model, Field attribute, Node node)
    {
        var fields = Fields(model, attribute.PayloadStart, attribute.PayloadEnd);
        var name = "";
        foreach (var f in fields)
        {
            if (f.Number == 1 && f.Wire == WireLength)
            {
                name = Utf8(model, f);
            }
            else if (f.Number is 6 or 11)
            {
                node.HasSubgraph = true; // AttributeProto.g / graphs
            }
        }

        if (name == "classlabels_int64s")
        {
            node.Int64Labels = [];
            foreach (var f in fields)
            {
                if (f.Number != 8)
                {
                    continue;
                }

                if (f.Wire == WireVarint)
                {
                    node.Int64Labels.Add((long)f.Varint);
                }
                else if (f.Wire == WireLength)
                {
                    var at = f.PayloadStart;
                    while (at < f.PayloadEnd)
                    {
                        node.Int64Labels.Add((long)ReadVarint(model, ref at, f.PayloadEnd));
                    }
                }
            }
        }
        else if (name == "classlabels_strings")
        {
            node.StringLabels = [];
            foreach (var f in fields)
            {
                if (f.Number == 9 && f.Wire == WireLength)
                {
                    node.StringLabels.Add(model.AsSpan(f.PayloadStart, f.PayloadEnd - f.PayloadStart).ToArray());
                }
            }
        }
    }

    private static bool IsExternal(byte[] model, Field tensor)
    {
        foreach (var f in Fields(model, tensor.PayloadStart, tensor.PayloadEnd))
        {
            if (f.Number == 14 && f.Wire == WireVarint && f.Varint == 1)
            {
                return true; // TensorProto.data_location = EXTERNAL
            }
        }

        return false;
    }

    private static string ReadName(byte[] model, Field valueInfo)
    {
        foreach (var f in Fields(model, valueInfo.PayloadStart, valueInfo.PayloadEnd))
        {
            if (f.Number == 1 && f.Wire == WireLength)
            {
                return Utf8(model, f);
            }
        }

        return "";
    }

    private static string Utf8(byte[] model, Field f) => Encoding.UTF8.GetString(model, f.PayloadStart, f.PayloadEnd - f.PayloadStart);

    /// <summary>The fields of one message in <paramref name="model"/>[start..end), in order, with their byte ranges.</summary>
    internal static List<Field> Fields(byte[] model, int start, int end)
    {
        var fields = new List<Field>();
        var at = start;
        while (at < end)
        {
            var fieldStart = at;
            var tag = ReadVarint(model, ref at, end);
            var number = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (number <= 0)
            {
                throw new FormatException("field number 0");
            }

            ulong varint = 0;
            int payloadStart = at, payloadEnd;
            switch (wire)
            {
                case WireVarint:
                    varint = ReadVarint(model, ref at, end);
                    payloadEnd = at;
                    break;
                case WireFixed64:
                    at += 8;
                    payloadEnd = at;
                    break;
                case WireFixed32:
                    at += 4;
                    payloadEnd = at;
                    break;
                case WireLength:
                    var length = ReadVarint(model, ref at, end);
                    if (length > (ulong)(end - at))
                    {
                        throw new FormatException("length past the end of the message");
                    }

                    payloadStart = at;
                    at += (int)length;
                    payloadEnd = at;
                    break;
                default:
                    throw new FormatException($"wire type {wire}");
            }

            if (at > end)
            {
                throw new FormatException("field past the end of the message");
            }

            fields.Add(new Field(number, wire, fieldStart, at, payloadStart, payloadEnd, varint));
        }

        return fields;
    }

    private static ulong ReadVarint(byte[] data, ref int at, int end)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= end)
            {
                throw new FormatException("truncated varint");
            }

            var b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new FormatException("varint longer than 10 bytes");
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        var n = 0;
        while (value >= 0x80)
        {
            buffer[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[n++] = (byte)value;
        stream.Write(buffer[..n]);
    }

    private static void WriteLengthField(Stream stream, int number, byte[] payload)
    {
        WriteVarint(stream, ((ulong)number << 3) | WireLength);
        WriteVarint(stream, (ulong)payload.Length);
        stream.Write(payload);
    }

    /// <summary>One field: number, wire type, its whole byte range (tag included) and its payload range.</summary>
    internal readonly record struct Field(int Number, int Wire, int Start, int End, int PayloadStart, int PayloadEnd, ulong Varint);

    private sealed class Node
    {
        public List<string> Inputs { get; } = [];

        public List<string> Outputs { get; } = [];

        public string Name { get; set; } = "";

        public string OpType { get; set; } = "";

        public string Domain { get; set; } = "";

        public bool HasSubgraph { get; set; }

        public List<long>? Int64Labels { get; set; }

        public List<byte[]>? StringLabels { get; set; }
    }
}
