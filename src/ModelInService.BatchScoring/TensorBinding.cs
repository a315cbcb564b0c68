using System.Globalization;
using System.Text;

namespace ModelInService.BatchScoring;

/// <summary>
/// How the untyped path (<see cref="IModelRunner"/>) maps columns onto a model's input tensors and its output tensors
/// onto columns, decided once from the signature and the file's header.
/// </summary>
/// <remarks>
/// Supported: a batchable model (<see cref="ModelSignature.Batching"/>) whose inputs are float32, float64, int64,
/// int32 or string tensors batched on axis 0 with every other dimension fixed (one row = a fixed number of values,
/// taken from that many columns in row-major order), and whose outputs are tensors of float32, float64, int64, int32,
/// bool or string batched on axis 0 with fixed row shapes, or ZipMap-style sequences of maps. Anything else (images
/// with free height and width, per-run inputs such as a sample rate, recurrent state, variable-length outputs) is
/// refused with a <see cref="NotSupportedException"/> naming the tensor and the reason.
/// </remarks>
internal sealed class TensorBinding
{
    private TensorBinding(IReadOnlyList<string> columns, TensorInput[] inputs, TensorOutput[] outputs)
    {
        Columns = columns;
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>The input columns, id first.</summary>
    public IReadOnlyList<string> Columns { get; }

    public TensorInput[] Inputs { get; }

    public TensorOutput[] Outputs { get; }

    /// <summary>Decides the binding, or throws with what is not supported (<see cref="NotSupportedException"/>) or what is missing (<see cref="BatchInputException"/>).</summary>
    public static TensorBinding Create(ModelSignature signature, IReadOnlyList<string> available, string idColumn, IDictionary<string, string> mapping, string filePath)
    {
        ArgumentNullException.ThrowIfNull(signature);
        CheckSupported(signature);
        foreach (var key in mapping.Keys)
        {
            if (signature.FindInput(key) is null)
            {
                throw new ArgumentException($"The column mapping names '{key}', which is not an input of the model (inputs: {string.Join(", ", signature.Inputs.Select(i => i.Name))}).");
            }
        }

        var columns = new List<string> { idColumn };
        var inputs = new TensorInput[signature.Inputs.Count];
        for (var i = 0; i < inputs.Length; i++)
        {
            var spec = signature.Inputs[i];
            var sources = Sources(signature, spec, available, idColumn, mapping, filePath);
            var indices = new int[sources.Length];
            for (var s = 0; s < sources.Length; s++)
            {
                var at = columns.IndexOf(sources[s]);
                if (at < 0)
                {
                    at = columns.Count;
                    columns.Add(sources[s]);
                }

                indices[s] = at;
            }

            inputs[i] = TensorInput.For(spec, indices, sources);
        }

        var outputs = new TensorOutput[signature.Outputs.Count];
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "model_version", "scored_at" };
        if (!names.Add(idColumn))
        {
            // Every output row also has these two columns: the ids would be overwritten by the version or the time.
            throw new NotSupportedException($"The id column '{idColumn}' has the name of a column every output row gets (model_version, scored_at): rename it in the input, or pick another id column.");
        }

        for (var o = 0; o < outputs.Length; o++)
        {
            outputs[o] = new TensorOutput(signature.Outputs[o]);
            foreach (var name in outputs[o].FixedColumnNames)
            {
                if (!names.Add(name))
                {
                    throw new NotSupportedException($"Output '{signature.Outputs[o].Name}' would write column '{name}', which another column already has (the id column, model_version, scored_at or another output).");
                }
            }
        }

        return new TensorBinding(columns, inputs, outputs);
    }

    /// <summary>The columns of one input: the mapping, a column of the input's name (one value per row), the model's <c>feature_names</c> metadata, <c>name_0..name_{n-1}</c>, or for a model with one input every other column in file order.</summary>
    private static string[] Sources(ModelSignature signature, TensorSpec spec, IReadOnlyList<string> available, string idColumn, IDictionary<string, string> mapping, string filePath)
    {
        var width = RowWidth(spec);
        string[]? sources = null;
        string how;
        if (mapping.TryGetValue(spec.Name, out var mapped))
        {
            sources = mapped.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            how = "the mapping";
            if (sources.Length != width)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"The mapping of input '{spec.Name}' lists {sources.Length} columns, but one row of it holds {width} values ({spec})."));
            }
        }
        else
        {
            how = "";
            if (width == 1 && Match(available, spec.Name) is { } single)
            {
                sources = [single];
            }
            else if (signature.Inputs.Count == 1 && signature.Metadata.TryGetValue("feature_names", out var features)
                && features.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is { } named
                && named.Length == width && named.All(available.Contains))
            {
                sources = named;
            }
            else if (width > 1 && Enumerable.Range(0, width).Select(e => string.Create(CultureInfo.InvariantCulture, $"{spec.Name}_{e}")).ToArray() is var indexed
                && indexed.All(available.Contains))
            {
                sources = indexed;
            }
            else if (signature.Inputs.Count == 1 && available.Where(c => c != idColumn).ToArray() is { } rest && rest.Length == width)
            {
                sources = rest;
            }
        }

        if (sources is null)
        {
            var others = available.Count(c => c != idColumn);
            throw new BatchInputException(filePath, "header", string.Create(CultureInfo.InvariantCulture,
                $"no columns for input '{spec.Name}' ({spec}, {width} value{(width == 1 ? "" : "s")} per row): the file has {others} column{(others == 1 ? "" : "s")} besides the id ({string.Join(", ", available)}). ") +
                (width == 1
                    ? $"Name a column '{spec.Name}' or map it (--map {spec.Name}=column, ColumnMapping[\"{spec.Name}\"])."
                    : string.Create(CultureInfo.InvariantCulture, $"List its {width} columns in order (--map {spec.Name}=a,b,..., ColumnMapping[\"{spec.Name}\"]), or name them {spec.Name}_0..{spec.Name}_{width - 1}."))
                , null);
        }

        foreach (var source in sources)
        {
            if (!available.Contains(source))
            {
                throw new BatchInputException(filePath, "header", $"no column '{source}' for input '{spec.Name}'{(how.Length > 0 ? " (named by " + how + ")" : "")} (the columns are: {string.Join(", ", available)})", null);
            }
        }

        return sources;
    }

    private static string? Match(IReadOnlyList<string> available, string name)
    {
        foreach (var column in available)
        {
            if (string.Equals(column, name, StringComparison.Ordinal))
            {
                return column;
            }
        }

        foreach (var column in available)
        {
            if (string.Equals(column, name, StringComparison.OrdinalIgnoreCase))
            {
                return column;
            }
        }

        return null;
    }

    /// <summary>The values in one row: the product of the dimensions after the batch axis (all fixed).</summary>
    internal static int RowWidth(TensorSpec spec)
    {
        long width = 1;
        for (var d = 1; d < spec.Dimensions.Count; d++)
        {
            width *= spec.Dimensions[d];
        }

        return checked((int)width);
    }

    private static void CheckSupported(ModelSignature signature)
    {
        if (!signature.Batching.Batchable)
        {
            throw new NotSupportedException($"The model is not batchable ({signature.Batching.Reason}); scoring from columns runs many rows per call and needs a batch axis.");
        }

        foreach (var spec in signature.Inputs)
        {
            var axis = signature.Batching.Find(spec.Name);
            if (spec.Kind != ModelValueKind.Tensor)
            {
                throw new NotSupportedException($"Input '{spec.Name}' is a {spec}, not a tensor; only tensor inputs can be bound from columns.");
            }

            if (axis is null || axis.Axis != 0)
            {
                throw new NotSupportedException($"Input '{spec.Name}' {spec} has {(axis is null || axis.Axis < 0 ? "no batch axis (one value per run)" : "its batch axis at " + axis.Axis.ToString(CultureInfo.InvariantCulture))}; only inputs batched on axis 0 can be bound from columns.");
            }

            if (axis.Bucket != BatchBucketKind.None || !FixedRow(spec))
            {
                throw new NotSupportedException($"Input '{spec.Name}' {spec} has a free dimension besides the batch axis (rows of varying shape); only inputs whose rows all have one fixed shape can be bound from columns.");
            }

            if (spec.ElementType is not (ModelElementType.Float32 or ModelElementType.Float64 or ModelElementType.Int64 or ModelElementType.Int32 or ModelElementType.String))
            {
                throw new NotSupportedException($"Input '{spec.Name}' is {spec}; inputs of float32, float64, int64, int32 or string can be bound from columns.");
            }
        }

        foreach (var spec in signature.Outputs)
        {
            if (spec.Kind == ModelValueKind.SequenceOfMaps)
            {
                continue;
            }

            var axis = signature.Batching.Find(spec.Name, isInput: false);
            if (spec.Kind != ModelValueKind.Tensor)
            {
                throw new NotSupportedException($"Output '{spec.Name}' is a {spec}; tensors and sequences of maps can be written as columns.");
            }

            if (axis is null || axis.Axis != 0 || !FixedRow(spec))
            {
                throw new NotSupportedException($"Output '{spec.Name}' {spec} is not batched on axis 0 with a fixed row shape; only such outputs can be written as columns.");
            }

            if (spec.ElementType is not (ModelElementType.Float32 or ModelElementType.Float64 or ModelElementType.Int64 or ModelElementType.Int32 or ModelElementType.Bool or ModelElementType.String))
            {
                throw new NotSupportedException($"Output '{spec.Name}' is {spec}; outputs of float32, float64, int64, int32, bool or string can be written as columns.");
            }
        }
    }

    private static bool FixedRow(TensorSpec spec)
    {
        if (spec.Dimensions.Count == 0)
        {
            return false;
        }

        for (var d = 1; d < spec.Dimensions.Count; d++)
        {
            if (spec.Dimensions[d] < 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An output name made safe as a column name: letters, digits and underscores.</summary>
    internal static string ColumnName(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        return builder.ToString();
    }
}

/// <summary>One model input bound from columns: <see cref="Width"/> values per row.</summary>
internal abstract class TensorInput(TensorSpec spec, int[] indices, string[] sources)
{
    public TensorSpec Spec { get; } = spec;

    public int Width { get; } = indices.Length;

    protected int[] Indices { get; } = indices;

    protected string[] Sources { get; } = sources;

    public abstract Array Allocate(int rows);

    /// <summary>Writes row <paramref name="row"/> of the chunk at position <paramref name="at"/> (a row index) of <paramref name="data"/>; returns the reason when the row is rejected.</summary>
    public abstract string? Bind(RowChunk chunk, int row, Array data, int at);

    /// <summary>The tensor of the first <paramref name="rows"/> rows of <paramref name="data"/> (trimmed when rows were rejected).</summary>
    public abstract NamedTensor Tensor(Array data, int rows);

    /// <summary>The tensor of one row of <paramref name="data"/>.</summary>
    public abstract NamedTensor Row(Array data, int row);

    protected long[] Shape(int rows)
    {
        var shape = new long[Spec.Dimensions.Count];
        shape[0] = rows;
        for (var d = 1; d < shape.Length; d++)
        {
            shape[d] = Spec.Dimensions[d];
        }

        return shape;
    }

    public static TensorInput For(TensorSpec spec, int[] indices, string[] sources) => spec.ElementType switch
    {
        ModelElementType.Float32 => new NumberInput<float>(spec, indices, sources),
        ModelElementType.Float64 => new NumberInput<double>(spec, indices, sources),
        ModelElementType.Int64 => new NumberInput<long>(spec, indices, sources),
        ModelElementType.Int32 => new NumberInput<int>(spec, indices, sources),
        _ => new StringInput(spec, indices, sources),
    };
}

internal sealed class NumberInput<T>(TensorSpec spec, int[] indices, string[] sources) : TensorInput(spec, indices, sources)
    where T : struct
{
    public override Array Allocate(int rows) => new T[rows * Width];

    public override string? Bind(RowChunk chunk, int row, Array data, int at)
    {
        var values = (T[])data;
        var offset = at * Width;
        for (var e = 0; e < Width; e++)
        {
            var column = chunk.Columns[Indices[e]];
            if (column.IsNull(row))
            {
                return $"column '{Sources[e]}' is null";
            }

            if (!column.TryGetDouble(row, out var number))
            {
                return $"column '{Sources[e]}': '{column.GetString(row)}' is not a number";
            }

            if (NumberConversion.TryConvert<T>(number, out var value) is { } reason)
            {
                return string.Create(CultureInfo.InvariantCulture, $"column '{Sources[e]}': {reason} (input '{Spec.Name}' is {Spec.ElementType})");
            }

            if (!double.IsFinite(number))
            {
                return string.Create(CultureInfo.InvariantCulture, $"column '{Sources[e]}' is {number}; non-finite values are rejected");
            }

            values[offset + e] = value;
        }

        return null;
    }

    public override NamedTensor Tensor(Array data, int rows)
    {
        var values = (T[])data;
        if (values.Length != rows * Width)
        {
            Array.Resize(ref values, rows * Width);
        }

        return NamedTensor.Create(Spec.Name, values, Shape(rows));
    }

    public override NamedTensor Row(Array data, int row) =>
        NamedTensor.Create(Spec.Name, ((T[])data).AsSpan(row * Width, Width).ToArray(), Shape(1));
}

internal sealed class StringInput(TensorSpec spec, int[] indices, string[] sources) : TensorInput(spec, indices, sources)
{
    public override Array Allocate(int rows) => new string[rows * Width];

    public override string? Bind(RowChunk chunk, int row, Array data, int at)
    {
        var values = (string[])data;
        for (var e = 0; e < Width; e++)
        {
            var value = chunk.Columns[Indices[e]].GetString(row);
            if (value is null)
            {
                return $"column '{Sources[e]}' is null";
            }

            values[(at * Width) + e] = value;
        }

        return null;
    }

    public override NamedTensor Tensor(Array data, int rows)
    {
        var values = (string[])data;
        if (values.Length != rows * Width)
        {
            Array.Resize(ref values, rows * Width);
        }

        return NamedTensor.Create(Spec.Name, values, Shape(rows));
    }

    public override NamedTensor Row(Array data, int row) =>
        NamedTensor.Create(Spec.Name, ((string[])data).AsSpan(row * Width, Width).ToArray(), Shape(1));
}

/// <summary>One model output written as columns: <c>name</c> for one value per row, <c>name_0</c>... for several, <c>name_{key}</c> per map key.</summary>
internal sealed class TensorOutput
{
    private readonly string _column;
    private readonly int _width;
    private object[]? _keys;

    public TensorOutput(TensorSpec spec)
    {
        Spec = spec;
        _column = TensorBinding.ColumnName(spec.Name);
        _width = spec.Kind == ModelValueKind.Tensor ? TensorBinding.RowWidth(spec) : 0;
        FixedColumnNames = spec.Kind != ModelValueKind.Tensor ? []
            : spec.Dimensions.Count == 1 ? [_column]
            : Enumerable.Range(0, _width).Select(e => string.Create(CultureInfo.InvariantCulture, $"{_column}_{e}")).ToArray();
    }

    public TensorSpec Spec { get; }

    /// <summary>The columns known from the signature (none for maps: their keys come with the first rows).</summary>
    public IReadOnlyList<string> FixedColumnNames { get; }

    /// <summary>Appends this output's columns for <paramref name="rows"/> rows of <paramref name="tensor"/>.</summary>
    public void AddColumns(NamedTensor tensor, int rows, List<ColumnData> columns)
    {
        if (tensor.Kind == ModelValueKind.SequenceOfMaps)
        {
            AddMapColumns(tensor, rows, columns);
            return;
        }

        if (tensor.Shape.Count == 0 || tensor.Shape[0] != rows || tensor.Data.Length != rows * _width)
        {
            throw new ModelInferenceException("batch scoring", string.Create(CultureInfo.InvariantCulture,
                $"output '{Spec.Name}' came back with shape [{string.Join(",", tensor.Shape)}] for {rows} rows; expected {Spec}"), null);
        }

        switch (tensor.Data)
        {
            case float[] f: Split(f, rows, columns); break;
            case double[] d: Split(d, rows, columns); break;
            case long[] l: Split(l, rows, columns); break;
            case int[] i: Split(i, rows, columns); break;
            case bool[] b: Split(b, rows, columns); break;
            case string[] s: Split(s, rows, columns); break;
            default: throw new NotSupportedException($"Output '{Spec.Name}' holds {tensor.Data.GetType().Name}, which cannot be written as a column.");
        }
    }

    private void Split<T>(T[] data, int rows, List<ColumnData> columns)
    {
        if (_width == 1)
        {
            columns.Add(new ColumnData<T>(FixedColumnNames[0], data, null));
            return;
        }

        for (var e = 0; e < _width; e++)
        {
            var values = new T[rows];
            for (var r = 0; r < rows; r++)
            {
                values[r] = data[(r * _width) + e];
            }

            columns.Add(new ColumnData<T>(FixedColumnNames[e], values, null));
        }
    }

    private void AddMapColumns(NamedTensor tensor, int rows, List<ColumnData> columns)
    {
        switch (tensor.Data)
        {
            case IReadOnlyDictionary<long, float>[] m: Maps(m, rows, columns); break;
            case IReadOnlyDictionary<long, double>[] m: Maps(m, rows, columns); break;
            case IReadOnlyDictionary<string, float>[] m: Maps(m, rows, columns); break;
            case IReadOnlyDictionary<string, double>[] m: Maps(m, rows, columns); break;
            default: throw new NotSupportedException($"Output '{Spec.Name}' holds {tensor.Data.GetType().Name}, which cannot be written as columns.");
        }
    }

    private void Maps<TKey, TValue>(IReadOnlyDictionary<TKey, TValue>[] maps, int rows, List<ColumnData> columns)
        where TKey : notnull
        where TValue : struct
    {
        // The keys (the classes) are fixed by the first rows scored, sorted, for every later chunk.
        if (_keys is null)
        {
            var keys = maps.Length == 0 ? [] : maps[0].Keys.ToArray();
            Array.Sort(keys);
            _keys = [.. keys.Cast<object>()];
        }

        foreach (var key in _keys)
        {
            var typedKey = (TKey)key;
            var values = new TValue[rows];
            bool[]? nulls = null;
            for (var r = 0; r < rows; r++)
            {
                if (maps[r].TryGetValue(typedKey, out var value))
                {
                    values[r] = value;
                }
                else
                {
                    (nulls ??= new bool[rows])[r] = true;
                }
            }

            columns.Add(new ColumnData<TValue>(ColumnNameFor(key), values, nulls));
        }
    }

    private string ColumnNameFor(object key) =>
        TensorBinding.ColumnName(string.Create(CultureInfo.InvariantCulture, $"{_column}_{key}"));
}
