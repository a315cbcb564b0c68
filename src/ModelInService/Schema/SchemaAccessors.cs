using System.Collections.Concurrent;

namespace ModelInService.Schema;

/// <summary>The compile-time accessors of one type (see <see cref="GeneratedModelSchemas.Register"/>).</summary>
internal sealed record TypeAccessors(Delegate? Factory, IReadOnlyDictionary<string, Delegate> Getters, IReadOnlyDictionary<string, Delegate> Setters);

/// <summary>
/// The accessors the source generator registered, by type. <see cref="MemberModel"/> and the output factory ask here
/// first and compile an expression tree only when a type (or one of its members) has none. Read at start-up only
/// (binder, copier and recorder construction); predictions call the delegates.
/// </summary>
internal static class SchemaAccessors
{
    /// <summary>Registered tables; written by module initializers, read when models load.</summary>
    private static readonly ConcurrentDictionary<Type, TypeAccessors> Tables = new();

    /// <summary>When true in the current async flow, lookups miss: tests build the reflected path beside the generated one.</summary>
    private static readonly AsyncLocal<bool> ReflectionForced = new();

    /// <summary>Gets or sets whether lookups ignore generated accessors in the current async flow (tests compare both paths).</summary>
    internal static bool ForceReflection
    {
        get => ReflectionForced.Value;
        set => ReflectionForced.Value = value;
    }

    /// <summary>Counts, in the current async flow, the generated delegates handed out and the reflected fallbacks (tests).</summary>
    private static readonly AsyncLocal<UseCounter?> Counter = new();

    /// <summary>Starts counting in the current async flow (tests check which path the binders and recorder took).</summary>
    internal static UseCounter Count() => Counter.Value = new UseCounter();

    public static void Register(Type type, TypeAccessors accessors) => Tables[type] = accessors;

    public static TypeAccessors? Find(Type type) =>
        !ReflectionForced.Value && Tables.TryGetValue(type, out var table) ? table : null;

    /// <summary>The generated getter of <paramref name="member"/> on <typeparamref name="TOwner"/> as a <c>Func&lt;TOwner, TValue&gt;</c> (exact type or a reference conversion by variance), or null.</summary>
    public static Func<TOwner, TValue>? Getter<TOwner, TValue>(string member) =>
        Counted(Find(typeof(TOwner)) is { } table && table.Getters.TryGetValue(member, out var getter) ? getter as Func<TOwner, TValue> : null);

    /// <summary>The generated setter of <paramref name="member"/> on <typeparamref name="TOwner"/> as an <c>Action&lt;TOwner, TValue&gt;</c>, or null.</summary>
    public static Action<TOwner, TValue>? Setter<TOwner, TValue>(string member) =>
        Counted(Find(typeof(TOwner)) is { } table && table.Setters.TryGetValue(member, out var setter) ? setter as Action<TOwner, TValue> : null);

    /// <summary>The generated factory of <typeparamref name="T"/>, or null.</summary>
    public static Func<T>? Factory<T>() => Counted(Find(typeof(T))?.Factory as Func<T>);

    private static T? Counted<T>(T? found)
        where T : Delegate
    {
        if (Counter.Value is { } counter)
        {
            if (found is null)
            {
                Interlocked.Increment(ref counter.Reflected);
            }
            else
            {
                Interlocked.Increment(ref counter.Generated);
            }
        }

        return found;
    }

    /// <summary>How many accessors came from generated code and how many had to be reflected.</summary>
    internal sealed class UseCounter
    {
        /// <summary>Generated delegates handed out.</summary>
        public int Generated;

        /// <summary>Lookups that missed (an expression tree was compiled).</summary>
        public int Reflected;
    }
}
