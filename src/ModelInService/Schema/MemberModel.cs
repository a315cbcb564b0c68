using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Reflection;

namespace ModelInService.Schema;

/// <summary>How a member's CLR type carries values.</summary>
internal enum MemberShape
{
    /// <summary>A single value of an element type (<c>float</c>, <c>string</c>, ...).</summary>
    Scalar,
    /// <summary>A one-dimensional array <c>T[]</c>.</summary>
    Array,
    /// <summary>A <c>ReadOnlyMemory&lt;T&gt;</c> (inputs only).</summary>
    Memory,
    /// <summary>A rectangular array <c>T[,]</c>, <c>T[,,]</c>, ... of a numeric type: a row with several free dimensions.</summary>
    MultiArray,
    /// <summary>A dictionary from a key type to a float (outputs of seq(map) only).</summary>
    Dictionary,
    /// <summary>Anything else: a schema error.</summary>
    Unsupported,
}

/// <summary>A property or field of an input or output type, with what the schema mapping needs to know about it. Built once at start-up.</summary>
internal sealed class MemberModel
{
    /// <summary>
    /// What schema discovery reads of an input or output type: its public properties and fields (and their
    /// attributes) and its public constructors (positional records' parameter attributes, the output factory). On the
    /// type parameters of <c>AddModel</c> and everything it passes them to, so trimming keeps these members.
    /// </summary>
    internal const DynamicallyAccessedMemberTypes SchemaMembers = DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.PublicConstructors;

    private MemberModel(Type declaringType, MemberInfo member, Type type, string mappedName, bool explicitName, int order, bool allowNonFinite, int declarationIndex)
    {
        DeclaringType = declaringType;
        Member = member;
        Type = type;
        MappedName = mappedName;
        ExplicitName = explicitName;
        Order = order;
        AllowNonFinite = allowNonFinite;
        DeclarationIndex = declarationIndex;
        (Shape, ElementClrType) = Classify(type);
    }

    public Type DeclaringType { get; }

    public MemberInfo Member { get; }

    public Type Type { get; }

    /// <summary>The model input/output name this member maps to (from the attribute, else the member name).</summary>
    public string MappedName { get; }

    /// <summary>Whether the name came from an attribute (matched exactly) rather than the member name (matched ignoring case).</summary>
    public bool ExplicitName { get; }

    public int Order { get; }

    public bool AllowNonFinite { get; }

    public int DeclarationIndex { get; }

    public MemberShape Shape { get; }

    /// <summary>The element type for scalars/arrays/memory; the dictionary key type for dictionaries.</summary>
    public Type? ElementClrType { get; }

    /// <summary>Gets the member as users read it in messages: <c>IrisInput.Features</c>.</summary>
    public string DisplayName => DeclaringType.Name + "." + Member.Name;

    public string TypeName => ModelElementTypes.CSharpName(Type);

    public static List<MemberModel> ForInput([DynamicallyAccessedMembers(SchemaMembers)] Type type) => Discover(type, forOutput: false);

    public static List<MemberModel> ForOutput([DynamicallyAccessedMembers(SchemaMembers)] Type type) => Discover(type, forOutput: true);

    /// <summary>
    /// The member's getter: the one the source generator registered for <typeparamref name="TOwner"/>
    /// (<see cref="ModelSchemaAttribute"/>) when there is one, else a compiled expression tree.
    /// </summary>
    public Func<TOwner, TValue> CompileGetter<TOwner, TValue>() =>
        SchemaAccessors.Getter<TOwner, TValue>(Member.Name) ?? ReflectGetter<TOwner, TValue>();

    /// <summary>The member's setter: the generated one when registered, else a compiled expression tree.</summary>
    public Action<TOwner, TValue> CompileSetter<TOwner, TValue>() =>
        SchemaAccessors.Setter<TOwner, TValue>(Member.Name) ?? ReflectSetter<TOwner, TValue>();

    internal Func<TOwner, TValue> ReflectGetter<TOwner, TValue>()
    {
        var p = Expression.Parameter(typeof(TOwner), "x");
        Expression body = Expression.MakeMemberAccess(p, Member);
        if (body.Type != typeof(TValue))
        {
            body = Expression.Convert(body, typeof(TValue));
        }

        return Expression.Lambda<Func<TOwner, TValue>>(body, p).Compile();
    }

    internal Action<TOwner, TValue> ReflectSetter<TOwner, TValue>()
    {
        var p = Expression.Parameter(typeof(TOwner), "x");
        var v = Expression.Parameter(typeof(TValue), "v");
        Expression value = v;
        if (Type != typeof(TValue))
        {
            value = Expression.Convert(v, Type);
        }

        var assign = Expression.Assign(Expression.MakeMemberAccess(p, Member), value);
        return Expression.Lambda<Action<TOwner, TValue>>(assign, p, v).Compile();
    }

    private static (MemberShape, Type?) Classify(Type type)
    {
        if (ModelElementTypes.FromClr(type) != ModelElementType.Unknown)
        {
            return (MemberShape.Scalar, type);
        }

        if (type.IsArray && type.GetArrayRank() == 1 && ModelElementTypes.FromClr(type.GetElementType()!) != ModelElementType.Unknown)
        {
            return (MemberShape.Array, type.GetElementType());
        }

        if (type.IsArray && type.GetArrayRank() >= 2 && type.GetElementType() != typeof(string) && ModelElementTypes.FromClr(type.GetElementType()!) != ModelElementType.Unknown)
        {
            return (MemberShape.MultiArray, type.GetElementType());
        }

        if (type.IsGenericType)
        {
            var def = type.GetGenericTypeDefinition();
            var args = type.GetGenericArguments();
            if (def == typeof(ReadOnlyMemory<>) && ModelElementTypes.FromClr(args[0]) != ModelElementType.Unknown)
            {
                return (MemberShape.Memory, args[0]);
            }

            if ((def == typeof(IReadOnlyDictionary<,>) || def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>))
                && (args[0] == typeof(long) || args[0] == typeof(string))
                && (args[1] == typeof(float) || args[1] == typeof(double)))
            {
                return (MemberShape.Dictionary, args[0]);
            }
        }

        return (MemberShape.Unsupported, null);
    }

    /// <summary>
    /// Sorts members into declaration order (the order in which several members pack into one tensor) by metadata
    /// token. Native AOT has no metadata tokens (reading one throws); there the runtime's own order is kept, which is
    /// the metadata's order, i.e. the declaration order (the AOT smoke test, .ci/aot-smoke, checks that every species
    /// comes out right and that the shifted feature is the one reported).
    /// </summary>
    private static void InDeclarationOrder<TMember>(TMember[] members)
        where TMember : MemberInfo
    {
        foreach (var member in members)
        {
            if (!member.HasMetadataToken())
            {
                return;
            }
        }

        Array.Sort(members, static (a, b) => a.MetadataToken.CompareTo(b.MetadataToken));
    }

    private static List<MemberModel> Discover([DynamicallyAccessedMembers(SchemaMembers)] Type type, bool forOutput)
    {
        var result = new List<MemberModel>();
        var parameterAttributes = ConstructorParameterAttributes(type, forOutput);
        var index = 0;
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        InDeclarationOrder(properties);
        foreach (var property in properties)
        {
            if (property.GetIndexParameters().Length > 0 || property.IsDefined(typeof(ModelIgnoreAttribute), true))
            {
                continue;
            }

            if (forOutput ? property.SetMethod is not { IsPublic: true } : property.GetMethod is not { IsPublic: true })
            {
                continue;
            }

            // Records generate an EqualityContract property; it is never a feature.
            if (property.Name == "EqualityContract" && property.PropertyType == typeof(Type))
            {
                continue;
            }

            Add(property, property.PropertyType);
        }

        var fields = type.GetFields(BindingFlags.Public | BindingFlags.Instance);
        InDeclarationOrder(fields);
        foreach (var field in fields)
        {
            if (field.IsDefined(typeof(ModelIgnoreAttribute), true) || (forOutput && field.IsInitOnly))
            {
                continue;
            }

            Add(field, field.FieldType);
        }

        return result;

        void Add(MemberInfo member, Type memberType)
        {
            string? name = null;
            var order = -1;
            if (forOutput)
            {
                var attr = member.GetCustomAttribute<ModelOutputAttribute>(true)
                    ?? (parameterAttributes.TryGetValue(member.Name, out var pa) ? pa as ModelOutputAttribute : null);
                name = attr?.Name;
                order = attr?.Order ?? -1;
            }
            else
            {
                var attr = member.GetCustomAttribute<ModelInputAttribute>(true)
                    ?? (parameterAttributes.TryGetValue(member.Name, out var pa) ? pa as ModelInputAttribute : null);
                name = attr?.Name;
                order = attr?.Order ?? -1;
            }

            var allowNonFinite = member.IsDefined(typeof(AllowNonFiniteAttribute), true)
                || (parameterAttributes.TryGetValue(member.Name + "#nonfinite", out var nf) && nf is AllowNonFiniteAttribute);
            result.Add(new MemberModel(type, member, memberType, name ?? member.Name, name is not null, order, allowNonFinite, index++));
        }
    }

    /// <summary>
    /// Attributes written on positional record parameters (<c>record R([ModelInput("x")] float[] X)</c>) land on the
    /// constructor parameter, not the property; honour them as if they were on the property.
    /// </summary>
    private static Dictionary<string, Attribute> ConstructorParameterAttributes([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] Type type, bool forOutput)
    {
        var map = new Dictionary<string, Attribute>(StringComparer.Ordinal);
        foreach (var ctor in type.GetConstructors())
        {
            foreach (var parameter in ctor.GetParameters())
            {
                if (parameter.Name is null)
                {
                    continue;
                }

                Attribute? attr = forOutput
                    ? parameter.GetCustomAttribute<ModelOutputAttribute>()
                    : parameter.GetCustomAttribute<ModelInputAttribute>();
                if (attr is not null)
                {
                    map.TryAdd(parameter.Name, attr);
                }

                if (parameter.GetCustomAttribute<AllowNonFiniteAttribute>() is { } nonFinite)
                {
                    map.TryAdd(parameter.Name + "#nonfinite", nonFinite);
                }
            }
        }

        return map;
    }
}
