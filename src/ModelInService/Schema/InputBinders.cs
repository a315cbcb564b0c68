using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelInService.Schema;

/// <summary>
/// Validates and packs the members of <typeparamref name="TInput"/> that feed one model input. Built once at start-up;
/// the request path only calls compiled delegates.
/// </summary>
internal abstract class InputBinder<TInput>
{
    protected InputBinder(string modelName, TensorSpec spec, RowShape shape, IReadOnlyList<MemberModel> members, ModelOptions options)
    {
        ModelName = modelName;
        Spec = spec;
        Shape = shape;
        MemberNames = new string[members.Count];
        FeatureNames = new string[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            MemberNames[i] = members[i].DisplayName;
            FeatureNames[i] = members[i].Member.Name;
        }

        MaxStringLength = options.MaxStringLength;
        MaxVariableElements = options.MaxVariableElements;
    }

    public string ModelName { get; }

    public TensorSpec Spec { get; }

    public RowShape Shape { get; }

    /// <summary>Display names of the bound members (<c>Type.Member</c>), in column order.</summary>
    public string[] MemberNames { get; }

    /// <summary>Feature names (member names), in column order: what the monitor reports drift under.</summary>
    public string[] FeatureNames { get; }

    protected int MaxStringLength { get; }

    protected int MaxVariableElements { get; }

    /// <summary>Throws <see cref="ModelInputException"/> when the input cannot be sent to the model.</summary>
    public abstract void Validate(TInput input);

    /// <summary>Packs validated rows into a new ONNX Runtime tensor that the caller disposes.</summary>
    public abstract OrtValue Pack(ReadOnlySpan<TInput> rows);

    /// <summary>Reads the packed row back (tests and tools; not on the request path).</summary>
    public abstract Array Unpack(OrtValue value);

    /// <summary>The number of elements the input supplies for its row (validated inputs only).</summary>
    public abstract int RowLength(TInput input);

    /// <summary>
    /// What rows must share to run together (validated inputs only): the row's length or shape when free, its value
    /// when the input has no batch axis, else 0.
    /// </summary>
    public virtual long RowBucket(TInput input) => Shape.IsVariable ? RowLength(input) : 0;

    /// <summary>The bytes <see cref="WriteKey"/> writes for <paramref name="input"/> (the cache key's content).</summary>
    public abstract int KeySize(TInput input);

    /// <summary>Writes the input's content (lengths and raw element bytes) for hashing; returns the bytes written.</summary>
    public abstract int WriteKey(TInput input, Span<byte> destination);

    protected ModelInputException Invalid(string member, string reason) => new(ModelName, member, reason);

    protected string Describe() => $"input '{Spec.Name}' ({Spec})";

    protected void CheckLength(string member, int length)
    {
        if (!Shape.IsVariable)
        {
            if (length != Shape.FixedElements)
            {
                throw Invalid(member, $"has {length} element{(length == 1 ? "" : "s")}; {Describe()} expects {Shape.FixedElements.ToString(CultureInfo.InvariantCulture)} per row");
            }

            return;
        }

        if (length == 0)
        {
            throw Invalid(member, $"is empty; {Describe()} needs at least one element per row");
        }

        if (length > MaxVariableElements)
        {
            throw Invalid(member, $"has {length} elements; the limit is {MaxVariableElements} (ModelOptions.MaxVariableElements)");
        }

        if (length % Shape.FixedElements != 0)
        {
            throw Invalid(member, $"has {length} elements, not a multiple of {Shape.FixedElements} as {Describe()} needs");
        }
    }
}

/// <summary>Binds members of an unmanaged element type (numbers, bool, half).</summary>
internal sealed class NumericInputBinder<TInput, T> : InputBinder<TInput>
    where T : unmanaged
{
    /// <summary>Getters of scalar members in column order; null when an array/memory member supplies the row.</summary>
    private readonly Func<TInput, T>[]? _scalars;

    /// <summary>Getter of a <c>T[]</c> member supplying the whole row.</summary>
    private readonly Func<TInput, T[]?>? _array;

    /// <summary>Getter of a <c>ReadOnlyMemory&lt;T&gt;</c> member supplying the whole row.</summary>
    private readonly Func<TInput, ReadOnlyMemory<T>>? _memory;

    /// <summary>Getter of a rectangular array (<c>T[,]</c>, <c>T[,,]</c>, ...) supplying the whole row, every dimension given.</summary>
    private readonly Func<TInput, Array?>? _multi;

    /// <summary>Whether the element type is floating point and at least one member rejects NaN/infinity.</summary>
    private readonly bool[] _checkFinite;

    private readonly TensorElementType _ortType;

    public NumericInputBinder(string modelName, TensorSpec spec, RowShape shape, IReadOnlyList<MemberModel> members, ModelOptions options)
        : base(modelName, spec, shape, members, options)
    {
        _ortType = OrtElementTypes.ToOrt(spec.ElementType);
        var floating = typeof(T) == typeof(float) || typeof(T) == typeof(double) || typeof(T) == typeof(Half);
        _checkFinite = new bool[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            _checkFinite[i] = floating && !members[i].AllowNonFinite && options.NonFiniteValues == NonFiniteValuePolicy.Reject;
        }

        switch (members[0].Shape)
        {
            case MemberShape.Scalar:
                _scalars = new Func<TInput, T>[members.Count];
                for (var i = 0; i < members.Count; i++)
                {
                    _scalars[i] = members[i].CompileGetter<TInput, T>();
                }

                break;
            case MemberShape.Array:
                _array = members[0].CompileGetter<TInput, T[]?>();
                break;
            case MemberShape.MultiArray:
                _multi = members[0].CompileGetter<TInput, Array?>();
                break;
            default:
                _memory = members[0].CompileGetter<TInput, ReadOnlyMemory<T>>();
                break;
        }
    }

    public override void Validate(TInput input)
    {
        if (_scalars is not null)
        {
            for (var c = 0; c < _scalars.Length; c++)
            {
                if (_checkFinite[c])
                {
                    var v = _scalars[c](input);
                    if (!IsFinite(v))
                    {
                        throw Invalid(MemberNames[c], $"is {Format(v)}; non-finite values are rejected (mark the member [AllowNonFinite] or set ModelOptions.NonFiniteValues = Allow)");
                    }
                }
            }

            return;
        }

        ReadOnlySpan<T> row;
        if (_multi is not null)
        {
            var array = _multi(input) ?? throw Invalid(MemberNames[0], "is null");
            CheckDimensions(array);
            row = Flat(array);
        }
        else if (_array is not null)
        {
            var array = _array(input) ?? throw Invalid(MemberNames[0], "is null");
            row = array;
            CheckLength(MemberNames[0], row.Length);
        }
        else
        {
            row = _memory!(input).Span;
            CheckLength(MemberNames[0], row.Length);
        }

        if (_checkFinite[0])
        {
            for (var i = 0; i < row.Length; i++)
            {
                if (!IsFinite(row[i]))
                {
                    throw Invalid(MemberNames[0] + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", $"is {Format(row[i])}; non-finite values are rejected (mark the member [AllowNonFinite] or set ModelOptions.NonFiniteValues = Allow)");
                }
            }
        }
    }

    public override OrtValue Pack(ReadOnlySpan<TInput> rows)
    {
        var rank = Shape.RowDims.Length;
        Span<long> first = stackalloc long[rank];
        Span<long> other = stackalloc long[rank];
        if (!RowDimsOf(rows[0], first))
        {
            throw Changed(0);
        }

        for (var r = 1; r < rows.Length; r++)
        {
            if (!RowDimsOf(rows[r], other))
            {
                throw Changed(r);
            }

            if (!other.SequenceEqual(first))
            {
                throw new ModelInputException(ModelName, MemberNames[0], $"has shape {TensorSpec.DescribeShape(other.ToArray())} but item 0 has {TensorSpec.DescribeShape(first.ToArray())}; rows sent together must have the same shape").AtIndex(r);
            }
        }

        // Without a batch axis one value serves the whole run: rows may share it only if they all carry it.
        var perRun = Shape.BatchAxis < 0;
        if (perRun)
        {
            for (var r = 1; r < rows.Length; r++)
            {
                if (!SameValues(rows[0], rows[r]))
                {
                    throw new ModelInputException(ModelName, MemberNames[0], $"differs from item 0; {Describe()} has no batch axis (one value per run), so rows sent together must carry the same value").AtIndex(r);
                }
            }
        }

        var n = perRun ? 1 : rows.Length;
        long rowElements = 1;
        for (var i = 0; i < rank; i++)
        {
            rowElements *= first[i];
        }

        var outer = Shape.OuterOf(first);
        var inner = (int)(rowElements / outer);
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, _ortType, Shape.ShapeFor(n, first));
        try
        {
            var destination = MemoryMarshal.Cast<byte, T>(value.GetTensorMutableRawData());
            var count = (int)rowElements;
            if (_scalars is not null && outer == 1)
            {
                for (var r = 0; r < n; r++)
                {
                    var row = destination.Slice(r * count, count);
                    for (var c = 0; c < count; c++)
                    {
                        row[c] = _scalars[c](rows[r]);
                    }
                }
            }
            else if (_scalars is not null)
            {
                for (var r = 0; r < n; r++)
                {
                    for (var c = 0; c < count; c++)
                    {
                        var o = c / inner;
                        destination[(((o * n) + r) * inner) + (c - (o * inner))] = _scalars[c](rows[r]);
                    }
                }
            }
            else if (outer == 1)
            {
                for (var r = 0; r < n; r++)
                {
                    GetRow(rows[r]).CopyTo(destination.Slice(r * count, count));
                }
            }
            else
            {
                for (var r = 0; r < n; r++)
                {
                    var source = GetRow(rows[r]);
                    for (var o = 0; o < outer; o++)
                    {
                        source.Slice(o * inner, inner).CopyTo(destination.Slice((int)(((o * n) + r) * inner), inner));
                    }
                }
            }
        }
        catch
        {
            value.Dispose();
            throw;
        }

        return value;
    }

    public override Array Unpack(OrtValue value) => MemoryMarshal.Cast<byte, T>(value.GetTensorMutableRawData()).ToArray();

    public override int RowLength(TInput input) => _scalars is not null ? _scalars.Length : GetRow(input).Length;

    public override long RowBucket(TInput input)
    {
        if (Shape.BatchAxis < 0)
        {
            // One value per run: rows with equal values share a bucket (Pack checks equality, so a hash collision can only split, never mix).
            if (_scalars is null)
            {
                return unchecked((long)System.IO.Hashing.XxHash3.HashToUInt64(MemoryMarshal.AsBytes(GetRow(input))));
            }

            Span<T> values = _scalars.Length <= 64 ? stackalloc T[_scalars.Length] : new T[_scalars.Length];
            for (var c = 0; c < _scalars.Length; c++)
            {
                values[c] = _scalars[c](input);
            }

            return unchecked((long)System.IO.Hashing.XxHash3.HashToUInt64(MemoryMarshal.AsBytes(values)));
        }

        if (_multi is not null)
        {
            var array = _multi(input)!;
            long bucket = 17;
            for (var i = 0; i < array.Rank; i++)
            {
                bucket = unchecked((bucket * 1_000_003) + array.GetLength(i));
            }

            return bucket;
        }

        return Shape.IsVariable ? RowLength(input) : 0;
    }

    public override int KeySize(TInput input) => _scalars is not null
        ? _scalars.Length * Unsafe.SizeOf<T>()
        : (4 * (_multi is not null ? Shape.RowDims.Length : 1)) + (GetRow(input).Length * Unsafe.SizeOf<T>());

    public override int WriteKey(TInput input, Span<byte> destination)
    {
        if (_scalars is not null)
        {
            var values = MemoryMarshal.Cast<byte, T>(destination);
            for (var c = 0; c < _scalars.Length; c++)
            {
                values[c] = _scalars[c](input);
            }

            return _scalars.Length * Unsafe.SizeOf<T>();
        }

        var offset = 0;
        if (_multi is not null)
        {
            var array = _multi(input)!;
            for (var i = 0; i < array.Rank; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination[offset..], array.GetLength(i));
                offset += 4;
            }
        }

        var row = MemoryMarshal.AsBytes(GetRow(input));
        if (_multi is null)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination, row.Length);
            offset = 4;
        }

        row.CopyTo(destination[offset..]);
        return offset + row.Length;
    }

    private ReadOnlySpan<T> GetRow(TInput input) => _array is not null ? _array(input) : _multi is not null ? Flat(_multi(input)) : _memory!(input).Span;

    private static ReadOnlySpan<T> Flat(Array? array) => array is null
        ? default
        : MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);

    /// <summary>The row's dimensions, or false when the row no longer fits the model (changed after validation).</summary>
    private bool RowDimsOf(TInput input, Span<long> dims)
    {
        if (_scalars is not null)
        {
            Shape.RowDims.CopyTo(dims);
            return true;
        }

        if (_multi is not null)
        {
            var array = _multi(input);
            if (array is null || array.Rank != dims.Length || array.Length == 0)
            {
                return false;
            }

            for (var i = 0; i < dims.Length; i++)
            {
                dims[i] = array.GetLength(i);
                if (Shape.RowDims[i] >= 0 && dims[i] != Shape.RowDims[i])
                {
                    return false;
                }
            }

            return true;
        }

        if (_array is not null && _array(input) is null)
        {
            return false;
        }

        var length = GetRow(input).Length;
        if (!Shape.IsVariable ? length != Shape.FixedElements : length == 0 || length % Shape.FixedElements != 0)
        {
            return false;
        }

        Shape.FillFromLength(length, dims);
        return true;
    }

    private bool SameValues(TInput a, TInput b)
    {
        if (_scalars is not null)
        {
            for (var c = 0; c < _scalars.Length; c++)
            {
                if (!EqualityComparer<T>.Default.Equals(_scalars[c](a), _scalars[c](b)))
                {
                    return false;
                }
            }

            return true;
        }

        return MemoryMarshal.AsBytes(GetRow(a)).SequenceEqual(MemoryMarshal.AsBytes(GetRow(b)));
    }

    private ModelInputException Changed(int index) =>
        new ModelInputException(ModelName, MemberNames[0], $"no longer fits {Describe()} (it changed after validation)").AtIndex(index);

    private void CheckDimensions(Array array)
    {
        for (var i = 0; i < array.Rank; i++)
        {
            var length = array.GetLength(i);
            if (length == 0)
            {
                throw Invalid(MemberNames[0], $"has length 0 in dimension {i}; {Describe()} needs at least one element");
            }

            if (Shape.RowDims[i] >= 0 && length != Shape.RowDims[i])
            {
                throw Invalid(MemberNames[0], $"has length {length} in dimension {i}; {Describe()} expects a row of {TensorSpec.DescribeShape(Shape.RowDims)} (dimension {i} is {Shape.RowDims[i].ToString(CultureInfo.InvariantCulture)})");
            }
        }

        if (Shape.IsVariable && array.Length > MaxVariableElements)
        {
            throw Invalid(MemberNames[0], $"has {array.Length} elements; the limit is {MaxVariableElements} (ModelOptions.MaxVariableElements)");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsFinite(T value)
    {
        if (typeof(T) == typeof(float))
        {
            return float.IsFinite(Unsafe.As<T, float>(ref value));
        }

        if (typeof(T) == typeof(double))
        {
            return double.IsFinite(Unsafe.As<T, double>(ref value));
        }

        if (typeof(T) == typeof(Half))
        {
            return Half.IsFinite(Unsafe.As<T, Half>(ref value));
        }

        return true;
    }

    private static string Format(T value)
    {
        var s = value.ToString() ?? "";
        return s switch
        {
            "∞" or "Infinity" => "+infinity",
            "-∞" or "-Infinity" => "-infinity",
            _ => s,
        };
    }
}

/// <summary>Binds string members.</summary>
internal sealed class StringInputBinder<TInput> : InputBinder<TInput>
{
    private readonly Func<TInput, string?>[]? _scalars;
    private readonly Func<TInput, string?[]?>? _array;

    public StringInputBinder(string modelName, TensorSpec spec, RowShape shape, IReadOnlyList<MemberModel> members, ModelOptions options)
        : base(modelName, spec, shape, members, options)
    {
        if (members[0].Shape == MemberShape.Scalar)
        {
            _scalars = new Func<TInput, string?>[members.Count];
            for (var i = 0; i < members.Count; i++)
            {
                _scalars[i] = members[i].CompileGetter<TInput, string?>();
            }
        }
        else
        {
            _array = members[0].CompileGetter<TInput, string?[]?>();
        }
    }

    public override void Validate(TInput input)
    {
        if (_scalars is not null)
        {
            for (var c = 0; c < _scalars.Length; c++)
            {
                CheckString(MemberNames[c], _scalars[c](input));
            }

            return;
        }

        var array = _array!(input) ?? throw Invalid(MemberNames[0], "is null");
        CheckLength(MemberNames[0], array.Length);
        for (var i = 0; i < array.Length; i++)
        {
            CheckString(MemberNames[0] + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", array[i]);
        }
    }

    public override OrtValue Pack(ReadOnlySpan<TInput> rows)
    {
        long rowElements = Shape.FixedElements;
        long freeLength = 0;
        if (Shape.IsVariable)
        {
            rowElements = _array!(rows[0])!.Length;
            freeLength = rowElements / Shape.FixedElements;
            for (var r = 1; r < rows.Length; r++)
            {
                var length = _array(rows[r])!.Length;
                if (length != rowElements)
                {
                    throw new ModelInputException(ModelName, MemberNames[0], $"has {length} elements but item 0 has {rowElements}; rows sent together must have the same length").AtIndex(r);
                }
            }
        }
        else if (_array is not null)
        {
            for (var r = 0; r < rows.Length; r++)
            {
                var row = _array(rows[r]);
                if (row is null || row.Length != rowElements || Array.IndexOf(row, null) >= 0)
                {
                    throw new ModelInputException(ModelName, MemberNames[0], $"changed after validation (null, a null element, or not {rowElements} elements)").AtIndex(r);
                }
            }
        }
        else
        {
            for (var r = 0; r < rows.Length; r++)
            {
                foreach (var get in _scalars!)
                {
                    if (get(rows[r]) is null)
                    {
                        throw new ModelInputException(ModelName, MemberNames[0], "changed after validation (a string became null)").AtIndex(r);
                    }
                }
            }
        }

        Span<long> dims = stackalloc long[Shape.RowDims.Length];
        Shape.FillFromLength(Shape.IsVariable ? freeLength * Shape.FixedElements : Shape.FixedElements, dims);
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, Shape.ShapeFor(rows.Length, dims));
        try
        {
            var index = 0;
            for (var r = 0; r < rows.Length; r++)
            {
                if (_scalars is not null)
                {
                    for (var c = 0; c < _scalars.Length; c++)
                    {
                        value.StringTensorSetElementAt(_scalars[c](rows[r]).AsSpan(), index++);
                    }
                }
                else
                {
                    var array = _array!(rows[r])!;
                    for (var i = 0; i < array.Length; i++)
                    {
                        value.StringTensorSetElementAt(array[i].AsSpan(), index++);
                    }
                }
            }
        }
        catch
        {
            value.Dispose();
            throw;
        }

        return value;
    }

    public override Array Unpack(OrtValue value) => value.GetStringTensorAsArray();

    public override int RowLength(TInput input) => _scalars is not null ? _scalars.Length : _array!(input)!.Length;

    public override int KeySize(TInput input)
    {
        var size = 0;
        if (_scalars is not null)
        {
            foreach (var get in _scalars)
            {
                size += 4 + (2 * get(input)!.Length);
            }

            return size;
        }

        foreach (var s in _array!(input)!)
        {
            size += 4 + (2 * s!.Length);
        }

        return size + 4;
    }

    public override int WriteKey(TInput input, Span<byte> destination)
    {
        var offset = 0;
        if (_scalars is not null)
        {
            foreach (var get in _scalars)
            {
                offset += WriteString(get(input)!, destination[offset..]);
            }

            return offset;
        }

        var array = _array!(input)!;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination, array.Length);
        offset = 4;
        foreach (var s in array)
        {
            offset += WriteString(s!, destination[offset..]);
        }

        return offset;

        static int WriteString(string value, Span<byte> destination)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination, value.Length);
            MemoryMarshal.AsBytes(value.AsSpan()).CopyTo(destination[4..]);
            return 4 + (2 * value.Length);
        }
    }

    private void CheckString(string member, string? value)
    {
        if (value is null)
        {
            throw Invalid(member, "is null");
        }

        if (value.Length > MaxStringLength)
        {
            throw Invalid(member, $"is {value.Length} characters long; the limit is {MaxStringLength} (ModelOptions.MaxStringLength)");
        }

        if (Utf16Check.FirstUnpairedSurrogate(value) is var at and >= 0)
        {
            throw Invalid(member, Utf16Check.Reason(at));
        }
    }
}
