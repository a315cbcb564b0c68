using System.Runtime.CompilerServices;

namespace ModelInService.Binding;

/// <summary>
/// Deep-copies the bound members of an output and estimates its size, so a cached output is never shared with a
/// caller that could mutate it. Built once per model load from compiled getters and setters.
/// </summary>
internal sealed class OutputCopier<TOutput>
{
    private readonly Func<TOutput> _factory;
    private readonly MemberCopier[] _members;

    public OutputCopier(Func<TOutput> factory, IEnumerable<MemberModel> members)
    {
        _factory = factory;
        _members = members.Select(Create).ToArray();
    }

    public TOutput Clone(TOutput source)
    {
        var copy = _factory();
        foreach (var member in _members)
        {
            member.Copy(source, copy);
        }

        return copy;
    }

    /// <summary>Approximate managed bytes held by the output (object headers, arrays, strings, map entries).</summary>
    public long EstimateSize(TOutput value)
    {
        long size = 32;
        foreach (var member in _members)
        {
            size += member.Size(value);
        }

        return size;
    }

    private static MemberCopier Create(MemberModel member)
    {
        var element = member.ElementClrType!;
        var type = member.Shape switch
        {
            MemberShape.Scalar => typeof(ScalarCopier<>).MakeGenericType(typeof(TOutput), element),
            MemberShape.Array => typeof(ArrayCopier<>).MakeGenericType(typeof(TOutput), element),
            _ => typeof(DictionaryCopier<,>).MakeGenericType(typeof(TOutput), element, member.Type.GetGenericArguments()[1]),
        };
        return (MemberCopier)Activator.CreateInstance(type, member)!;
    }

    private static long SizeOf<T>(T value) =>
        value is string s ? 24 + (2L * s.Length) : RuntimeHelpers.IsReferenceOrContainsReferences<T>() ? 8 : Unsafe.SizeOf<T>();

    private abstract class MemberCopier
    {
        public abstract void Copy(TOutput from, TOutput to);

        public abstract long Size(TOutput value);
    }

    private sealed class ScalarCopier<T>(MemberModel member) : MemberCopier
    {
        private readonly Func<TOutput, T> _get = member.CompileGetter<TOutput, T>();
        private readonly Action<TOutput, T> _set = member.CompileSetter<TOutput, T>();

        public override void Copy(TOutput from, TOutput to) => _set(to, _get(from));

        public override long Size(TOutput value) => SizeOf(_get(value));
    }

    private sealed class ArrayCopier<T>(MemberModel member) : MemberCopier
    {
        private readonly Func<TOutput, T[]?> _get = member.CompileGetter<TOutput, T[]?>();
        private readonly Action<TOutput, T[]> _set = member.CompileSetter<TOutput, T[]>();

        public override void Copy(TOutput from, TOutput to)
        {
            if (_get(from) is { } array)
            {
                _set(to, (T[])array.Clone());
            }
        }

        public override long Size(TOutput value)
        {
            if (_get(value) is not { } array)
            {
                return 0;
            }

            if (typeof(T) != typeof(string))
            {
                return 24 + ((long)array.Length * Unsafe.SizeOf<T>());
            }

            long size = 24 + (8L * array.Length);
            foreach (var item in array)
            {
                size += SizeOf(item);
            }

            return size;
        }
    }

    private sealed class DictionaryCopier<TKey, TValue>(MemberModel member) : MemberCopier
        where TKey : notnull
    {
        private readonly Func<TOutput, IEnumerable<KeyValuePair<TKey, TValue>>?> _get = member.CompileGetter<TOutput, IEnumerable<KeyValuePair<TKey, TValue>>?>();
        private readonly Action<TOutput, Dictionary<TKey, TValue>> _set = member.CompileSetter<TOutput, Dictionary<TKey, TValue>>();

        public override void Copy(TOutput from, TOutput to)
        {
            if (_get(from) is { } map)
            {
                _set(to, new Dictionary<TKey, TValue>(map));
            }
        }

        public override long Size(TOutput value)
        {
            if (_get(value) is not ICollection<KeyValuePair<TKey, TValue>> map)
            {
                return 0;
            }

            return 80 + (map.Count * (24L + Unsafe.SizeOf<TKey>() + Unsafe.SizeOf<TValue>()));
        }
    }
}
