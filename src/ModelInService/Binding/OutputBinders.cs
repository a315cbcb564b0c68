using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Binding;

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

    /// <summary>Sets the bound members of <paramref name="results"/>[0..count) from <paramref name="value"/>.</summary>
    public abstract void Unpack(OrtValue value, TOutput[] results, int count);

    protected ModelInferenceException Unexpected(string what) =>
        new(ModelName, $"Model '{ModelName}' returned an unexpected value for output '{Spec.Name}' ({Spec}): {what}.", null);
}

/// <summary>Binds a tensor output of an unmanaged element type to an array member or to scalar members (one per column).</summary>
internal sealed class TensorOutputBinder<TOutput, T> : OutputBinder<TOutput>
    where T : unmanaged
{
    private readonly Action<TOutput, T[]>? _array;
    private readonly Action<TOutput, T>[]? _scalars;

    public TensorOutputBinder(string modelName, TensorSpec spec, IReadOnlyList<MemberModel> members)
        : base(modelName, spec)
    {
        if (members[0].Shape == MemberShape.Array)
        {
            _array = members[0].CompileSetter<TOutput, T[]>();
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

    public override void Unpack(OrtValue value, TOutput[] results, int count)
    {
        if (!value.IsTensor)
        {
            throw Unexpected("not a tensor");
        }

        if (count > 1)
        {
            var shape = value.GetTensorTypeAndShape().Shape;
            if (shape.Length == 0 || shape[0] != count)
            {
                throw Unexpected($"shape {TensorSpec.DescribeShape(shape)} does not have one row per input ({count})");
            }
        }

        ReadOnlySpan<T> source = MemoryMarshal.Cast<byte, T>(value.GetTensorMutableRawData());
        if (source.Length % count != 0)
        {
            throw Unexpected($"{source.Length} elements cannot be split into {count} rows");
        }

        var rowElements = source.Length / count;
        if (_array is not null)
        {
            for (var r = 0; r < count; r++)
            {
                _array(results[r], source.Slice(r * rowElements, rowElements).ToArray());
            }

            return;
        }

        var scalars = _scalars!;
        if (rowElements != scalars.Length)
        {
            throw Unexpected($"{rowElements} elements per row, but {scalars.Length} scalar member{(scalars.Length == 1 ? " is" : "s are")} bound to it");
        }

        for (var r = 0; r < count; r++)
        {
            var row = source.Slice(r * rowElements, rowElements);
            for (var c = 0; c < scalars.Length; c++)
            {
                scalars[c](results[r], row[c]);
            }
        }
    }
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

    public override void Unpack(OrtValue value, TOutput[] results, int count)
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
    private readonly Action<TOutput, TValue[]>? _array;

    public MapOutputBinder(string modelName, TensorSpec spec, MemberModel member)
        : base(modelName, spec)
    {
        if (member.Shape == MemberShape.Dictionary)
        {
            _dictionary = member.CompileSetter<TOutput, Dictionary<TKey, TValue>>();
        }
        else
        {
            _array = member.CompileSetter<TOutput, TValue[]>();
        }
    }

    public override void Unpack(OrtValue value, TOutput[] results, int count)
    {
        var maps = value.GetValueCount();
        if (maps != count)
        {
            throw Unexpected($"{maps} maps for {count} rows");
        }

        var allocator = OrtAllocator.DefaultInstance;
        for (var r = 0; r < count; r++)
        {
            using var map = value.GetValue(r, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            ReadOnlySpan<TValue> v = MemoryMarshal.Cast<byte, TValue>(values.GetTensorMutableRawData());
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

            _dictionary!(results[r], dictionary);
        }
    }
}
