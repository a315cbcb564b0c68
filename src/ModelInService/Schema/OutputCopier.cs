using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace ModelInService.Schema;

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
        Members = members.ToArray();
        _members = Members.Select(Create).ToArray();
    }

    /// <summary>The bound output members, in binding order (the L2 cache's compact format writes them in this order).</summary>
    public IReadOnlyList<MemberModel> Members { get; }

    /// <summary>A new, empty <typeparamref name="TOutput"/> (the L2 cache's compact format fills one).</summary>
    public TOutput NewOutput() => _factory();

    /// <summary>
    /// Gets whether no instance of <typeparamref name="TOutput"/> can change once built: every instance field of the
    /// type and its base types is readonly (get-only or init-only properties, readonly fields) and of an immutable type
    /// (primitives, strings, enums, decimal, date and time types, or a type that passes the same test; arrays,
    /// dictionaries and interfaces do not). <see cref="Clone"/> then returns its argument: the cache hands out the
    /// stored instance itself (when it is exactly a <typeparamref name="TOutput"/>, not a derived type). Decided once per
    /// type.
    /// </summary>
    public static bool IsImmutable => Immutability.OfOutput;

    /// <summary>A copy no caller of the original can change, or the same instance when <see cref="IsImmutable"/>.</summary>
    public TOutput Clone(TOutput source)
    {
        if (IsImmutable && (typeof(TOutput).IsValueType || source is null || source.GetType() == typeof(TOutput)))
        {
            return source;
        }

        var copy = _factory();
        foreach (var member in _members)
        {
            member.Copy(source, copy);
        }

        return copy;
    }

    /// <summary>
    /// Whether two outputs agree on every bound member: equal scalars and strings, arrays and maps with the same shape
    /// and floating-point values within 1e-4 (absolute or relative). Used to report shadow agreement.
    /// </summary>
    public bool Agrees(TOutput a, TOutput b)
    {
        foreach (var member in _members)
        {
            if (!member.Agrees(a, b))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool Close<T>(T x, T y)
    {
        if (typeof(T) == typeof(float))
        {
            return CloseDouble(Unsafe.As<T, float>(ref x), Unsafe.As<T, float>(ref y));
        }

        if (typeof(T) == typeof(double))
        {
            return CloseDouble(Unsafe.As<T, double>(ref x), Unsafe.As<T, double>(ref y));
        }

        if (typeof(T) == typeof(Half))
        {
            return CloseDouble((double)Unsafe.As<T, Half>(ref x), (double)Unsafe.As<T, Half>(ref y));
        }

        return EqualityComparer<T>.Default.Equals(x, y);

        static bool CloseDouble(double p, double q) =>
            p.Equals(q) || Math.Abs(p - q) <= 1e-4 * Math.Max(1, Math.Max(Math.Abs(p), Math.Abs(q)));
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
        return member.Shape switch
        {
            MemberShape.Scalar when element == typeof(string) => new ScalarCopier<string>(member),
            MemberShape.Array when element == typeof(string) => new ArrayCopier<string>(member),
            MemberShape.Scalar or MemberShape.Array or MemberShape.MultiArray => ElementDispatch.Unmanaged(element, new CopierFactory(member)),
            _ => ElementDispatch.Map<MemberCopier>(
                element,
                member.Type.GetGenericArguments()[1],
                () => new DictionaryCopier<long, float>(member),
                () => new DictionaryCopier<long, double>(member),
                () => new DictionaryCopier<string, float>(member),
                () => new DictionaryCopier<string, double>(member)),
        };
    }

    /// <summary>The copier of a scalar, array or rectangular member of an unmanaged element type.</summary>
    private sealed class CopierFactory(MemberModel member) : IUnmanagedElementVisitor<MemberCopier>
    {
        public MemberCopier Visit<T>()
            where T : unmanaged => member.Shape switch
            {
                MemberShape.Scalar => new ScalarCopier<T>(member),
                MemberShape.Array => new ArrayCopier<T>(member),
                _ => new MultiArrayCopier<T>(member),
            };
    }

    private static long SizeOf<T>(T value) =>
        value is string s ? 24 + (2L * s.Length) : RuntimeHelpers.IsReferenceOrContainsReferences<T>() ? 8 : Unsafe.SizeOf<T>();

    private abstract class MemberCopier
    {
        public abstract void Copy(TOutput from, TOutput to);

        public abstract long Size(TOutput value);

        public abstract bool Agrees(TOutput a, TOutput b);
    }

    private sealed class ScalarCopier<T>(MemberModel member) : MemberCopier
    {
        private readonly Func<TOutput, T> _get = member.CompileGetter<TOutput, T>();
        private readonly Action<TOutput, T> _set = member.CompileSetter<TOutput, T>();

        public override void Copy(TOutput from, TOutput to) => _set(to, _get(from));

        public override long Size(TOutput value) => SizeOf(_get(value));

        public override bool Agrees(TOutput a, TOutput b) => Close(_get(a), _get(b));
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

        public override bool Agrees(TOutput a, TOutput b)
        {
            var x = _get(a);
            var y = _get(b);
            if (x is null || y is null)
            {
                return x is null && y is null;
            }

            if (x.Length != y.Length)
            {
                return false;
            }

            for (var i = 0; i < x.Length; i++)
            {
                if (!Close(x[i], y[i]))
                {
                    return false;
                }
            }

            return true;
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

    private sealed class MultiArrayCopier<T>(MemberModel member) : MemberCopier
        where T : unmanaged
    {
        private readonly Func<TOutput, Array?> _get = member.CompileGetter<TOutput, Array?>();
        private readonly Action<TOutput, Array> _set = member.CompileSetter<TOutput, Array>();

        public override void Copy(TOutput from, TOutput to)
        {
            if (_get(from) is { } array)
            {
                _set(to, (Array)array.Clone());
            }
        }

        public override bool Agrees(TOutput a, TOutput b)
        {
            var x = _get(a);
            var y = _get(b);
            if (x is null || y is null)
            {
                return x is null && y is null;
            }

            if (x.Rank != y.Rank || x.Length != y.Length)
            {
                return false;
            }

            for (var d = 0; d < x.Rank; d++)
            {
                if (x.GetLength(d) != y.GetLength(d))
                {
                    return false;
                }
            }

            var p = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(x)), x.Length);
            var q = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(y)), y.Length);
            for (var i = 0; i < p.Length; i++)
            {
                if (!Close(p[i], q[i]))
                {
                    return false;
                }
            }

            return true;
        }

        public override long Size(TOutput value) => _get(value) is { } array ? 24 + (8L * array.Rank) + ((long)array.Length * Unsafe.SizeOf<T>()) : 0;
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

        public override bool Agrees(TOutput a, TOutput b)
        {
            if (_get(a) is not IReadOnlyDictionary<TKey, TValue> x || _get(b) is not IReadOnlyDictionary<TKey, TValue> y)
            {
                return _get(a) is null && _get(b) is null;
            }

            if (x.Count != y.Count)
            {
                return false;
            }

            foreach (var (key, value) in x)
            {
                if (!y.TryGetValue(key, out var other) || !Close(value, other))
                {
                    return false;
                }
            }

            return true;
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

    /// <summary>The immutability test, run once per output type.</summary>
    private static class Immutability
    {
        /// <summary>
        /// Under Native AOT (no dynamic code) reflection sees only the fields whose metadata was kept, so a writable
        /// field could be missed and a mutable output shared from the cache: outputs are then always copied.
        /// </summary>
        public static readonly bool OfOutput = RuntimeFeature.IsDynamicCodeSupported && IsImmutable(typeof(TOutput), []);

        [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Only reached with dynamic code (not Native AOT, see OfOutput). The trimmer removes only fields no code accesses, which cannot make an instance mutable; every field that remains is listed.")]
        [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As IL2070: base types' fields, same reasoning.")]
        private static bool IsImmutable(Type type, HashSet<Type> visiting)
        {
            if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(Half)
                || type == typeof(Int128) || type == typeof(UInt128) || type == typeof(DateTime) || type == typeof(DateTimeOffset)
                || type == typeof(TimeSpan) || type == typeof(DateOnly) || type == typeof(TimeOnly) || type == typeof(Guid))
            {
                return true;
            }

            if (Nullable.GetUnderlyingType(type) is { } underlying)
            {
                return IsImmutable(underlying, visiting);
            }

            // Interfaces, abstract and open types may hide anything; arrays, pointers and delegates are mutable or opaque.
            if (type.IsInterface || type.IsAbstract || type.IsArray || type.IsPointer || type.IsByRef || type.ContainsGenericParameters
                || typeof(Delegate).IsAssignableFrom(type) || type == typeof(object))
            {
                return false;
            }

            // A non-sealed class could be the base of a mutable runtime type. The output type itself may be one: Clone
            // checks the instance's exact type.
            if (!type.IsValueType && !type.IsSealed && type != typeof(TOutput))
            {
                return false;
            }

            if (!visiting.Add(type))
            {
                return true; // a cycle: the type is judged by its other fields
            }

            for (var t = type; t is not null && t != typeof(object) && t != typeof(ValueType); t = t.BaseType)
            {
                foreach (var field in t.GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.DeclaredOnly))
                {
                    if (!field.IsInitOnly || !IsImmutable(field.FieldType, visiting))
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }
}
