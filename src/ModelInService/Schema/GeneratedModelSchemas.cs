using System.ComponentModel;

namespace ModelInService;

/// <summary>
/// Where code emitted by the ModelInService source generator for a <see cref="ModelSchemaAttribute"/> type registers
/// its member accessors (from a module initializer, before any model loads). Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GeneratedModelSchemas
{
    /// <summary>Registers the compile-time accessors of <paramref name="type"/>; a later registration of the same type replaces it.</summary>
    /// <param name="type">The input or output type.</param>
    /// <param name="factory">A <c>Func&lt;T&gt;</c> that creates an empty instance, or null when the type has no usable constructor (or is a struct).</param>
    /// <param name="getters">Per member name, a <c>Func&lt;T, TMember&gt;</c>.</param>
    /// <param name="setters">
    /// Per member name, an <c>Action&lt;T, TValue&gt;</c> where TValue is the member type, except for a rectangular
    /// array (<see cref="Array"/>) and a dictionary (<c>Dictionary&lt;TKey, TValue&gt;</c>), the values the binders produce.
    /// </param>
    public static void Register(Type type, Delegate? factory, IReadOnlyDictionary<string, Delegate> getters, IReadOnlyDictionary<string, Delegate> setters)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(getters);
        ArgumentNullException.ThrowIfNull(setters);
        Schema.SchemaAccessors.Register(type, new Schema.TypeAccessors(factory, getters, setters));
    }
}
