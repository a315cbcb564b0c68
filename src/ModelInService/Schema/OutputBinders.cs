using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Schema;

/// <summary>Copies one model output into the members of <typeparamref name="TOutput"/>. Built once at start-up.</summary>
internal abstract class OutputBinder<TOutput>
{
    protected OutputBinder(string modelName, TensorSpec spec)
    {
        ModelName = modelName;
        Spec = spec;
    }

    public string ModelName { get; }

    public TensorSpec Spec { get; }

    /// <summary>
    /// Sets the bound members of <paramref name="results"/>[0..count) from <paramref name="value"/>. A row whose
    /// floating-point values include NaN or an infinity (in a member without <see cref="AllowNonFiniteAttribute"/>)
    /// gets an entry in <paramref name="failures"/> (created on the first one): only that row fails.
    /// </summary>
    public abstract void Unpack(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures);

    /// <summary>Sets the bound members of every row, throwing the first row's non-finite error if any.</summary>
    public void Unpack(OrtValue value, TOutput[] results, int count)
    {
        ModelNonFiniteOutputException?[]? failures = null;
        Unpack(value, results, count, ref failures);
        if (failures is not null)
        {
            foreach (var failure in failures)
            {
                if (failure is not null)
                {
                    throw failure;
                }
            }
        }
    }

    /// <summary>Notes the first non-finite value of row <paramref name="row"/>.</summary>
    protected void NonFinite(ref ModelNonFiniteOutputException?[]? failures, int count, int row, string member, double value)
    {
        failures ??= new ModelNonFiniteOutputException?[count];
        failures[row] ??= new ModelNonFiniteOutputException(ModelName, Spec.Name, member, value);
    }

    protected ModelInferenceException Unexpected(string what) =>
        new(ModelName, $"Model '{ModelName}' returned an unexpected value for output '{Spec.Name}' ({Spec}): {what}.", null);
}

/// <summary>
/// Binds a tensor output of an unmanaged element type to an array member (<c>T[]</c> flat, or <c>T[,]</c>, <c>T[,,]</c>,
/// ... with the row's shape) or to scalar members (one per column). Rows are split along the output's batch axis.
/// </summary>
internal sealed class TensorOutputBinder<TOutput, T> : OutputBinder<TOutput>
    where T : unmanaged
{
    private readonly Action<TOutput, T[]>? _array;
    private readonly Action<TOutput, Array>? _multi;

    /// <summary>The rectangular member's declared type (<c>T[,,,,]</c>): rows of rank 5 and more are created as it.</summary>
    private readonly Type? _multiType;
    private readonly int _multiRank;
    private readonly Action<TOutput, T>[]? _scalars;
    private readonly int _axis;

    /// <summary>Whether a member bound to this output refuses non-finite values (floating-point outputs only).</summary>
    private readonly bool _checkFinite;

    /// <summary>Per member (column for scalars): whether it accepts non-finite values, and its name for the error.</summary>
    private readonly bool[] _allowNonFinite;
    private readonly string[] _memberNames;

    public TensorOutputBinder(string modelName, TensorSpec spec, IReadOnlyList<MemberModel> members)
        : this(modelName, spec, members, 0)
    {
    }

    public TensorOutputBinder(string modelName, TensorSpec spec, IReadOnlyList<MemberModel> members, int batchAxis)
        : base(modelName, spec)
    {
        _axis = batchAxis;
        _allowNonFinite = new bool[members.Count];
        _memberNames = new string[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            _allowNonFinite[i] = members[i].AllowNonFinite;
            _memberNames[i] = members[i].DisplayName;
            _checkFinite |= FiniteCheck.Applies<T>() && !members[i].AllowNonFinite;
        }

        if (members[0].Shape == MemberShape.Array)
        {
            _array = members[0].CompileSetter<TOutput, T[]>();
        }
        else if (members[0].Shape == MemberShape.MultiArray)
        {
            _multi = members[0].CompileSetter<TOutput, Array>();
            _multiRank = members[0].Type.GetArrayRank();
            _multiType = members[0].Type;
        }
        else
        {
            _scalars = new Action<TOutput, T>[members.Count];
            for (var i = 0; i < members.Count; i++)
            {
                _scalars[i] = members[i].CompileSetter<TOutput, T>();
            }
        }
    }

    public override void Unpack(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        if (!value.IsTensor)
        {
            throw Unexpected("not a tensor");
        }

        ReadOnlySpan<T> source = MemoryMarshal.Cast<byte, T>(value.GetTensorMutableRawData());
        if (count == 1 && _multi is null)
        {
            // One row: whatever the batch axis, its data is the whole tensor in order (no shape needed, no allocation for it).
            if (_checkFinite && FiniteCheck.IndexOfNonFinite(source) >= 0)
            {
                FindNonFinite(source, 1, source.Length, ref failures);
            }

            SetRow(results[0], source);
            return;
        }

        var shape = value.GetTensorTypeAndShape().Shape;

        // The batch axis must hold one entry per row. A single row takes the whole tensor when it does not (the
        // model's output was never split by rows, e.g. an unbatched model or a free dimension that is not the batch).
        var axis = _axis;
        if (axis >= shape.Length || (axis >= 0 && shape[axis] != count))
        {
            if (count > 1)
            {
                throw Unexpected(axis >= shape.Length
                    ? $"shape {TensorSpec.DescribeShape(shape)} has no dimension {axis} (its batch axis)"
                    : $"shape {TensorSpec.DescribeShape(shape)} has {shape[axis]} rows on its batch axis {axis} for {count} input rows; if that dimension is not the batch, set ModelOptions.BatchAxes[\"{Spec.Name}\"] to the right axis or -1 (the model then runs one row at a time)");
            }

            axis = -1;
        }
        else if (axis < 0 && count > 1)
        {
            throw Unexpected($"it has no batch axis, so {count} rows cannot share a run");
        }

        long outer = 1;
        for (var i = 0; i < axis; i++)
        {
            outer *= shape[i];
        }

        var rowElements = source.Length / count;
        var inner = (int)(rowElements / Math.Max(outer, 1));
        if (_scalars is not null && rowElements != _scalars.Length)
        {
            throw Unexpected(ScalarMismatch(rowElements));
        }

        if (_checkFinite && FiniteCheck.IndexOfNonFinite(source) >= 0)
        {
            FindNonFinite(source, count, count == 1 ? source.Length : inner, ref failures);
        }

        int[]? lengths = null;
        if (_multi is not null)
        {
            lengths = new int[_multiRank];

            // A lone row whose output was not split where the signature suggested (a recurrent state [2,1,128] read
            // as [N,?,?] when the model's state axis was not declared): the row's real batch dimension has length 1,
            // and leaving it out keeps the data's order, so the row still fits the member's rank.
            var squeeze = axis < 0 && count == 1 && shape.Length == _multiRank + 1 ? Array.IndexOf(shape, 1L) : -1;
            var rank = 0;
            for (var i = 0; i < shape.Length; i++)
            {
                if (i == axis || i == squeeze)
                {
                    continue;
                }

                if (rank == lengths.Length)
                {
                    throw Unexpected($"shape {TensorSpec.DescribeShape(shape)} has more dimensions per row than the {_multiRank} of the bound member");
                }

                lengths[rank++] = checked((int)shape[i]);
            }

            if (rank != lengths.Length)
            {
                throw Unexpected($"shape {TensorSpec.DescribeShape(shape)} has {rank} dimensions per row; the bound member has {_multiRank}");
            }
        }

        for (var r = 0; r < count; r++)
        {
            if (_scalars is not null)
            {
                for (var c = 0; c < _scalars.Length; c++)
                {
                    var o = c / inner;
                    _scalars[c](results[r], source[(int)((((o * count) + r) * inner) + (c - (o * inner)))]);
                }

                continue;
            }

            var row = _multi is not null ? CreateMulti(lengths!, _multiType!) : null;
            var flat = row is null ? new T[rowElements] : null;
            var destination = row is not null
                ? MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(row)), row.Length)
                : flat.AsSpan();
            if (outer <= 1)
            {
                source.Slice(r * rowElements, rowElements).CopyTo(destination);
            }
            else
            {
                for (var o = 0; o < outer; o++)
                {
                    source.Slice((int)(((o * count) + r) * inner), inner).CopyTo(destination.Slice(o * inner, inner));
                }
            }

            if (row is not null)
            {
                _multi!(results[r], row);
            }
            else
            {
                _array!(results[r], flat!);
            }
        }
    }

    /// <summary>
    /// The slow path, taken only when the tensor holds a non-finite value: finds the rows (and members) concerned.
    /// Element e of a tensor split along its batch axis is ((o * count) + r) * inner + j, column o * inner + j of row r.
    /// </summary>
    private void FindNonFinite(ReadOnlySpan<T> source, int count, int inner, ref ModelNonFiniteOutputException?[]? failures)
    {
        for (var e = 0; e < source.Length; e++)
        {
            var v = FiniteCheck.ToDouble(source[e]);
            if (double.IsFinite(v))
            {
                continue;
            }

            var block = e / inner;
            var row = count == 1 ? 0 : block % count;
            var column = count == 1 ? e : ((block / count) * inner) + (e % inner);
            var member = _scalars is not null ? column : 0;
            if (member < _allowNonFinite.Length && !_allowNonFinite[member])
            {
                NonFinite(ref failures, count, row, _memberNames[member], v);
            }
        }
    }

    /// <summary>Says what a scalar-column mismatch means and the two ways out (an array member, or the batch axis).</summary>
    private string ScalarMismatch(long rowElements) =>
        $"{rowElements} elements per row, but {_scalars!.Length} scalar member{(_scalars.Length == 1 ? " is" : "s are")} bound to it; "
        + $"bind a {ModelElementTypes.CSharpName(typeof(T))}[] member instead, or, if its dimension {_axis} is not the batch (an output such as [N*2]), set ModelOptions.BatchAxes[\"{Spec.Name}\"] = -1";

    private void SetRow(TOutput result, ReadOnlySpan<T> row)
    {
        if (_scalars is null)
        {
            _array!(result, row.ToArray());
            return;
        }

        if (row.Length != _scalars.Length)
        {
            throw Unexpected(ScalarMismatch(row.Length));
        }

        for (var c = 0; c < _scalars.Length; c++)
        {
            _scalars[c](result, row[c]);
        }
    }

    // Rank 5 and up from the member's own array type, which exists wherever the member does (Native AOT included),
    // unlike Array.CreateInstance(typeof(T), lengths), which may need an array type nobody compiled.
    private static Array CreateMulti(int[] lengths, Type arrayType) => lengths.Length switch
    {
        2 => new T[lengths[0], lengths[1]],
        3 => new T[lengths[0], lengths[1], lengths[2]],
        4 => new T[lengths[0], lengths[1], lengths[2], lengths[3]],
        _ => Array.CreateInstanceFromArrayType(arrayType, lengths),
    };
}

/// <summary>Binds a string tensor output to a <c>string[]</c> member or to string members.</summary>
internal sealed class StringOutputBinder<TOutput> : OutputBinder<TOutput>
{
    private readonly Action<TOutput, string[]>? _array;
    private readonly Action<TOutput, string>[]? _scalars;

    public StringOutputBinder(string modelName, TensorSpec spec, IReadOnlyList<MemberModel> members)
        : base(modelName, spec)
    {
        if (members[0].Shape == MemberShape.Array)
        {
            _array = members[0].CompileSetter<TOutput, string[]>();
        }
        else
        {
            _scalars = new Action<TOutput, string>[members.Count];
            for (var i = 0; i < members.Count; i++)
            {
                _scalars[i] = members[i].CompileSetter<TOutput, string>();
            }
        }
    }

    public override void Unpack(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        var info = value.GetTensorTypeAndShape();
        var total = checked((int)info.ElementCount);
        if (count > 1 && (info.Shape.Length == 0 || info.Shape[0] != count))
        {
            throw Unexpected($"shape {TensorSpec.DescribeShape(info.Shape)} does not have one row per input ({count})");
        }

        if (total % count != 0)
        {
            throw Unexpected($"{total} elements cannot be split into {count} rows");
        }

        var rowElements = total / count;
        if (_scalars is not null && rowElements != _scalars.Length)
        {
            throw Unexpected($"{rowElements} elements per row, but {_scalars.Length} string member(s) are bound to it");
        }

        for (var r = 0; r < count; r++)
        {
            if (_array is not null)
            {
                var row = new string[rowElements];
                for (var i = 0; i < rowElements; i++)
                {
                    row[i] = value.GetStringElement((r * rowElements) + i);
                }

                _array(results[r], row);
            }
            else
            {
                for (var c = 0; c < rowElements; c++)
                {
                    _scalars![c](results[r], value.GetStringElement((r * rowElements) + c));
                }
            }
        }
    }
}

/// <summary>
/// Binds a <c>seq(map(TKey, TValue))</c> output (sklearn-onnx ZipMap) to a dictionary member, or to an array member
/// that receives the values in the map's key order.
/// </summary>
internal sealed class MapOutputBinder<TOutput, TKey, TValue> : OutputBinder<TOutput>
    where TKey : notnull
    where TValue : unmanaged
{
    private readonly Action<TOutput, Dictionary<TKey, TValue>>? _dictionary;
    private readonly Action<TOutput, IReadOnlyDictionary<TKey, TValue>>? _readOnly;
    private readonly Action<TOutput, TValue[]>? _array;
    private readonly bool _checkFinite;
    private readonly string _memberName;
    private SharedMapKeys<TKey>? _zipMapKeys;
    private SharedMapKeys<TKey>? _lastKeys;

    public MapOutputBinder(string modelName, TensorSpec spec, MemberModel member)
        : base(modelName, spec)
    {
        _checkFinite = FiniteCheck.Applies<TValue>() && !member.AllowNonFinite;
        _memberName = member.DisplayName;
        if (member.Shape == MemberShape.Dictionary && member.Type == typeof(IReadOnlyDictionary<TKey, TValue>))
        {
            // Declared read-only: rows share their keys (ReadOnlyMap) instead of a Dictionary each.
            _readOnly = member.CompileSetter<TOutput, IReadOnlyDictionary<TKey, TValue>>();
        }
        else if (member.Shape == MemberShape.Dictionary)
        {
            _dictionary = member.CompileSetter<TOutput, Dictionary<TKey, TValue>>();
        }
        else
        {
            _array = member.CompileSetter<TOutput, TValue[]>();
        }
    }

    public override void Unpack(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        if (Spec.ZipMap is { } zipMap)
        {
            UnpackTensor(value, zipMap, results, count, ref failures);
            return;
        }

        var maps = value.GetValueCount();
        if (maps != count)
        {
            throw Unexpected($"{maps} maps for {count} rows");
        }

        if (!TryUnpackShared(value, results, count, ref failures))
        {
            UnpackPerRow(value, results, count, ref failures);
        }
    }

    /// <summary>
    /// The ZipMap was removed at load (<see cref="Sessions.ZipMapRemoval"/>): <paramref name="value"/> is its input
    /// tensor, one row of class values per input row, and the keys are the node's labels.
    /// </summary>
    private void UnpackTensor(OrtValue value, ZipMapSource zipMap, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        if (typeof(TValue) != typeof(float) || !value.IsTensor)
        {
            throw Unexpected($"a {(value.IsTensor ? "tensor of another type" : "non-tensor value")} where the ZipMap's float input '{zipMap.TensorName}' was expected");
        }

        var width = zipMap.Width;
        var data = MemoryMarshal.Cast<float, TValue>(value.GetTensorDataAsSpan<float>());
        if (data.Length != (long)count * width)
        {
            throw Unexpected($"{data.Length} values in '{zipMap.TensorName}' for {count} rows of {width} classes");
        }

        _zipMapKeys ??= new SharedMapKeys<TKey>(ZipMapKeys(zipMap));
        if (zipMap.InOrder)
        {
            Distribute(data, width, _zipMapKeys, results, count, ref failures);
            return;
        }

        var buffer = ArrayPool<TValue>.Shared.Rent(Math.Max(1, data.Length));
        try
        {
            var columns = zipMap.Columns;
            for (var r = 0; r < count; r++)
            {
                var row = data.Slice(r * width, width);
                var target = buffer.AsSpan(r * width, width);
                for (var i = 0; i < width; i++)
                {
                    target[i] = row[columns[i]];
                }
            }

            Distribute(buffer.AsSpan(0, data.Length), width, _zipMapKeys, results, count, ref failures);
        }
        finally
        {
            ArrayPool<TValue>.Shared.Return(buffer);
        }
    }

    private static TKey[] ZipMapKeys(ZipMapSource zipMap)
    {
        var keys = new TKey[zipMap.Width];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = typeof(TKey) == typeof(long) ? (TKey)(object)zipMap.Int64Keys![i] : (TKey)(object)zipMap.StringKeys![i];
        }

        return keys;
    }

    /// <summary>
    /// The fast path: every map of a ZipMap output has the same keys, so the keys are decoded once (from row 0) and
    /// each row only contributes its values, read through the C API with no managed object per row. Returns false,
    /// having touched neither <paramref name="results"/> nor <paramref name="failures"/>, when the C API is not
    /// available, a call fails, or a row's keys differ from row 0's (the caller then takes the per-row path).
    /// </summary>
    internal unsafe bool TryUnpackShared(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        if (OrtMapApi.Instance is not { } api || count < 1 || (typeof(TKey) != typeof(long) && typeof(TKey) != typeof(string)))
        {
            return false;
        }

        var sequence = OrtMapApi.Handle(value);
        var width = 0;
        long[]? longKeys = null;
        byte[]? keyBytes = null;
        nuint[]? keyOffsets = null;
        var keyLength = 0;
        byte[]? scratchBytes = null;
        nuint[]? scratchOffsets = null;
        TValue[]? buffer = null;
        try
        {
            for (var r = 0; r < count; r++)
            {
                if (!api.TryGetValue(sequence, r, out var map))
                {
                    return false;
                }

                nint keys = 0, values = 0;
                try
                {
                    if (!api.TryGetValue(map, 0, out keys) || !api.TryElementCount(keys, out var n) || (r > 0 && n != width))
                    {
                        return false;
                    }

                    if (r == 0)
                    {
                        width = n;
                        buffer = ArrayPool<TValue>.Shared.Rent(Math.Max(1, checked(count * width)));
                    }

                    if (width > 0)
                    {
                        if (typeof(TKey) == typeof(long))
                        {
                            if (!api.TryTensorData(keys, out var k))
                            {
                                return false;
                            }

                            var row = new ReadOnlySpan<long>(k, width);
                            if (r == 0)
                            {
                                longKeys = row.ToArray();
                            }
                            else if (!row.SequenceEqual(longKeys))
                            {
                                return false;
                            }
                        }
                        else
                        {
                            if (!api.TryStringLength(keys, out var length) || (r > 0 && length != keyLength))
                            {
                                return false;
                            }

                            if (r == 0)
                            {
                                keyLength = length;
                                keyBytes = new byte[length];
                                keyOffsets = new nuint[width];
                                if (!api.TryStringContent(keys, keyBytes, keyOffsets))
                                {
                                    return false;
                                }
                            }
                            else
                            {
                                scratchBytes ??= ArrayPool<byte>.Shared.Rent(Math.Max(1, keyLength));
                                scratchOffsets ??= ArrayPool<nuint>.Shared.Rent(width);
                                if (!api.TryStringContent(keys, scratchBytes.AsSpan(0, keyLength), scratchOffsets.AsSpan(0, width))
                                    || !scratchBytes.AsSpan(0, keyLength).SequenceEqual(keyBytes)
                                    || !scratchOffsets.AsSpan(0, width).SequenceEqual(keyOffsets))
                                {
                                    return false;
                                }
                            }
                        }

                        // A map's values come in the order of its keys (ONNX Runtime keeps a sorted std::map).
                        if (!api.TryGetValue(map, 1, out values) || !api.TryTensorData(values, out var v))
                        {
                            return false;
                        }

                        new ReadOnlySpan<TValue>(v, width).CopyTo(buffer.AsSpan(r * width, width));
                    }
                }
                finally
                {
                    api.Release(values);
                    api.Release(keys);
                    api.Release(map);
                }
            }

            Distribute(buffer.AsSpan(0, count * width), width, _array is not null ? null : Shared(SharedKeys(width, longKeys, keyBytes, keyOffsets)), results, count, ref failures);
            return true;
        }
        finally
        {
            GC.KeepAlive(value); // its native value was read through a raw handle
            if (buffer is not null)
            {
                ArrayPool<TValue>.Shared.Return(buffer);
            }

            if (scratchBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(scratchBytes);
            }

            if (scratchOffsets is not null)
            {
                ArrayPool<nuint>.Shared.Return(scratchOffsets);
            }
        }
    }

    /// <summary>
    /// The shared keys for a run's decoded keys: the previous run's when they are the same (a model's maps keep their
    /// keys), so the index of a wide map is built once, not per run. Workers may race here; either object is right.
    /// </summary>
    private SharedMapKeys<TKey> Shared(TKey[] keys)
    {
        if (Volatile.Read(ref _lastKeys) is { } last && last.Keys.AsSpan().SequenceEqual(keys, EqualityComparer<TKey>.Default))
        {
            return last;
        }

        var shared = new SharedMapKeys<TKey>(keys);
        Volatile.Write(ref _lastKeys, shared);
        return shared;
    }

    /// <summary>The keys read once from row 0 of a native sequence of maps.</summary>
    private static TKey[] SharedKeys(int width, long[]? longKeys, byte[]? keyBytes, nuint[]? keyOffsets)
    {
        var keys = new TKey[width];
        for (var i = 0; i < width; i++)
        {
            if (typeof(TKey) == typeof(long))
            {
                keys[i] = (TKey)(object)longKeys![i];
            }
            else
            {
                var start = (int)keyOffsets![i];
                var end = i + 1 < width ? (int)keyOffsets[i + 1] : keyBytes!.Length;
                keys[i] = (TKey)(object)Encoding.UTF8.GetString(keyBytes!, start, end - start);
            }
        }

        return keys;
    }

    /// <summary>Builds every row's member from the shared keys and its slice of <paramref name="buffer"/> (rows of <paramref name="width"/> values in key order).</summary>
    private void Distribute(ReadOnlySpan<TValue> buffer, int width, SharedMapKeys<TKey>? shared, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        if (_checkFinite)
        {
            for (var r = 0; r < count; r++)
            {
                ReadOnlySpan<TValue> row = buffer.Slice(r * width, width);
                if (FiniteCheck.IndexOfNonFinite(row) is var bad and >= 0)
                {
                    NonFinite(ref failures, count, r, _memberName, FiniteCheck.ToDouble(row[bad]));
                }
            }
        }

        if (_readOnly is not null)
        {
            ReadOnlyMap<TKey, TValue>.Distribute(shared!, buffer[..(count * width)], results, count, _readOnly);
            return;
        }

        for (var r = 0; r < count; r++)
        {
            ReadOnlySpan<TValue> v = buffer.Slice(r * width, width);
            if (_array is not null)
            {
                _array(results[r], v.ToArray());
                continue;
            }

            var keys = shared!.Keys;
            var dictionary = new Dictionary<TKey, TValue>(width);
            for (var i = 0; i < width; i++)
            {
                dictionary[keys[i]] = v[i];
            }

            _dictionary!(results[r], dictionary);
        }
    }

    /// <summary>The plain managed path: three <see cref="OrtValue"/>s per row, keys decoded for every row.</summary>
    internal void UnpackPerRow(OrtValue value, TOutput[] results, int count, ref ModelNonFiniteOutputException?[]? failures)
    {
        var allocator = OrtAllocator.DefaultInstance;
        for (var r = 0; r < count; r++)
        {
            using var map = value.GetValue(r, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            ReadOnlySpan<TValue> v = MemoryMarshal.Cast<byte, TValue>(values.GetTensorMutableRawData());
            if (_checkFinite && FiniteCheck.IndexOfNonFinite(v) is var bad and >= 0)
            {
                NonFinite(ref failures, count, r, _memberName, FiniteCheck.ToDouble(v[bad]));
            }

            if (_array is not null)
            {
                _array(results[r], v.ToArray());
                continue;
            }

            var dictionary = new Dictionary<TKey, TValue>(v.Length);
            if (typeof(TKey) == typeof(long))
            {
                ReadOnlySpan<long> k = MemoryMarshal.Cast<byte, long>(keys.GetTensorMutableRawData());
                for (var i = 0; i < k.Length; i++)
                {
                    dictionary[(TKey)(object)k[i]] = v[i];
                }
            }
            else
            {
                for (var i = 0; i < v.Length; i++)
                {
                    dictionary[(TKey)(object)keys.GetStringElement(i)] = v[i];
                }
            }

            if (_readOnly is not null)
            {
                _readOnly(results[r], dictionary); // keys decoded per row here: nothing to share
            }
            else
            {
                _dictionary!(results[r], dictionary);
            }
        }
    }
}
