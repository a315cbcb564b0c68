using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelInService.Generators;

/// <summary>
/// For every type marked <c>[ModelSchema]</c>, emits a module initializer that registers typed getters, setters and a
/// constructor call with <c>GeneratedModelSchemas.Register</c>, so the schema binders, the cache's copier and the
/// monitor's recorder need no expression compilation (Native AOT can only interpret it). Members are discovered by
/// the rules of the runtime's MemberModel; the diagnostics repeat, at compile time, the start-up schema errors that
/// do not depend on the model file.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class SchemaGenerator : IIncrementalGenerator
{
    private const string SchemaAttribute = "ModelInService.ModelSchemaAttribute";

    private const string InputAttribute = "ModelInService.ModelInputAttribute";

    private const string OutputAttribute = "ModelInService.ModelOutputAttribute";

    private const string IgnoreAttribute = "ModelInService.ModelIgnoreAttribute";

    private const string InputSupported = "input members must be a scalar (float, double, int, long, byte, bool, string, ...), a T[], a ReadOnlyMemory<T> or a rectangular T[,], T[,,], ... for rows with several free dimensions";

    private const string OutputSupported = "output members must be a scalar (float, long, string, ...), a T[], a rectangular T[,], T[,,], ... (the row's shape), or an IReadOnlyDictionary<long|string, float> for seq(map) outputs";

    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers | SymbolDisplayMiscellaneousOptions.UseSpecialTypes);

    private static readonly SymbolDisplayFormat MessageFormat = SymbolDisplayFormat.MinimallyQualifiedFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes);

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var specs = context.SyntaxProvider.ForAttributeWithMetadataName(
            SchemaAttribute,
            static (node, _) => node is TypeDeclarationSyntax,
            static (ctx, ct) => Describe((INamedTypeSymbol)ctx.TargetSymbol, ct));

        // All types at once: a class name (and hint name) must be unique in the compilation, and two types can
        // sanitize to the same one (Iris_Input and Iris.Input; Foo and foo, as hint names compare ignoring case). A
        // duplicate hint name throws from AddSource, which drops the generated code of every type.
        context.RegisterSourceOutput(specs.Collect(), static (spc, all) =>
        {
            foreach (var spec in all)
            {
                foreach (var diagnostic in spec.Diagnostics)
                {
                    spc.ReportDiagnostic(diagnostic.ToDiagnostic());
                }
            }

            foreach (var (spec, className) in UniqueClassNames(all))
            {
                spc.AddSource(className + ".g.cs", SchemaEmitter.Emit(spec, className));
            }
        });
    }

    /// <summary>
    /// The name of each generated class (also its hint name): the readable sanitized name, with a hash of the type's
    /// metadata name appended when another type sanitizes to the same name ignoring case. Only the colliding types
    /// change name, and each keeps its name whatever else is in the compilation; a counter settles a clash of hashes.
    /// </summary>
    internal static List<(SchemaSpec Spec, string ClassName)> UniqueClassNames(IEnumerable<SchemaSpec> specs)
    {
        var generated = specs.Where(s => s.ClassName is not null).OrderBy(s => s.MetadataName, StringComparer.Ordinal).ToList();
        var counts = generated.GroupBy(s => s.ClassName!, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var result = new List<(SchemaSpec, string)>(generated.Count);
        foreach (var spec in generated)
        {
            var name = counts[spec.ClassName!] > 1 ? spec.ClassName + "_" + StableHash(spec.MetadataName) : spec.ClassName!;
            var unique = name;
            for (var i = 2; !taken.Add(unique); i++)
            {
                unique = name + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            result.Add((spec, unique));
        }

        return result;
    }

    /// <summary>FNV-1a of the name: the same in every compiler process (string.GetHashCode is randomized per process).</summary>
    private static string StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = unchecked((hash ^ c) * 16777619u);
        }

        return hash.ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The CLR name (<c>Shop.Models.Iris+Input</c>): unique in the assembly, unlike the sanitized C# name.</summary>
    private static string MetadataName(INamedTypeSymbol type) =>
        type.ContainingType is { } outer ? MetadataName(outer) + "+" + type.MetadataName
        : type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() + "." + type.MetadataName
        : type.MetadataName;

    /// <summary>Turns the symbol into plain values (no symbol, syntax or compilation leaves this method).</summary>
    internal static SchemaSpec Describe(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticSpec>();
        var typeName = type.ToDisplayString(TypeFormat);
        var location = type.Locations.FirstOrDefault();
        var why = WhyNotGenerated(type);
        if (why is not null)
        {
            diagnostics.Add(DiagnosticSpec.Create("MIS1004", $"{type.Name}: {why}; its members are bound through reflection (expression trees, interpreted under Native AOT)", location));
            return NotGenerated(typeName, type, diagnostics);
        }

        var discovered = Discover(type, cancellationToken);
        Check(type, discovered, diagnostics);
        var members = new List<MemberSpec>();
        var named = new List<ISymbol>(NamedBy(type));
        foreach (var member in discovered)
        {
            if (member.Ambiguous)
            {
                continue; // hidden by a member of the same name: the runtime's reflection decides
            }

            named.Add(member.Symbol);
            if (member.Symbol is IPropertySymbol property)
            {
                named.AddRange(new ISymbol?[] { property.GetMethod, property.SetMethod }.OfType<ISymbol>());
            }

            named.AddRange(NamedBy(member.Type));
            named.AddRange(NamedBy(member.Symbol.ContainingType));

            var setter = type.IsValueType ? SetterKind.None : member.Setter;
            if (setter == SetterKind.InitAccessor && member.Symbol.ContainingType.IsGenericType)
            {
                // An UnsafeAccessor to a generic type's method needs a generic accessor class repeating its type
                // parameters and constraints; not generated, so say that this member's setter is reflected.
                setter = SetterKind.None;
                if (member.EffectiveRole != Role.Input)
                {
                    diagnostics.Add(DiagnosticSpec.Create("MIS1005", $"{type.Name}.{member.Symbol.Name}: its init accessor is declared in the generic type {member.Symbol.ContainingType.ToDisplayString(MessageFormat)}, which generated code cannot call; it is set through reflection (an expression tree, interpreted under Native AOT); give it a set accessor or declare it in a non-generic type", member.Symbol.Locations.FirstOrDefault(l => l.IsInSource) ?? location));
                }
            }

            var (valueType, cast) = member.Shape switch
            {
                MemberShape.MultiArray => ("global::System.Array", true),
                // A read-only member is set with the library's shared-keys map (its setter takes the declared type; the
                // contravariant Action also serves callers that set a Dictionary); the others are set with a Dictionary.
                MemberShape.Dictionary when member.Type.OriginalDefinition.ToDisplayString() == "System.Collections.Generic.IReadOnlyDictionary<TKey, TValue>" => (member.Type.ToDisplayString(TypeFormat), false),
                MemberShape.Dictionary => ($"global::System.Collections.Generic.Dictionary<{((INamedTypeSymbol)member.Type).TypeArguments[0].ToDisplayString(TypeFormat)}, {((INamedTypeSymbol)member.Type).TypeArguments[1].ToDisplayString(TypeFormat)}>", false),
                _ => (member.Type.ToDisplayString(TypeFormat), false),
            };
            members.Add(new MemberSpec(member.Symbol.Name, member.Type.ToDisplayString(TypeFormat), member.Symbol.ContainingType.ToDisplayString(TypeFormat), member.HasGetter, setter, valueType, cast));
        }

        var constructor = FindConstructor(type, discovered);
        foreach (var parameter in constructor ?? ImmutableArray<IParameterSymbol>.Empty)
        {
            named.AddRange(NamedBy(parameter.Type));
        }

        // The reflected path binds [Obsolete(error: true)] and [Experimental] members; the generated code must compile
        // where it names them: experimental ids are suppressed with #pragma, obsolete errors by an obsolete context.
        var experimental = new SortedSet<string>(StringComparer.Ordinal);
        var obsoleteError = false;
        foreach (var symbol in named.Distinct<ISymbol>(SymbolEqualityComparer.Default))
        {
            foreach (var attribute in symbol.GetAttributes())
            {
                switch (attribute.AttributeClass?.ToDisplayString())
                {
                    case "System.Diagnostics.CodeAnalysis.ExperimentalAttribute" when attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string id:
                        if (IsPragmaId(id))
                        {
                            experimental.Add(id); // C# rejects other ids (CS9211); one from metadata would break the #pragma line
                        }

                        break;
                    case "System.ObsoleteAttribute" when attribute.ConstructorArguments.Length == 2 && attribute.ConstructorArguments[1].Value is true:
                        obsoleteError = true;
                        break;
                }
            }
        }

        return new SchemaSpec(
            typeName,
            MetadataName(type),
            "ModelSchema_" + Sanitize(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted))),
            new EquatableArray<ParameterSpec>(constructor?.Select(p => new ParameterSpec(p.Type.ToDisplayString(TypeFormat))).ToArray() ?? System.Array.Empty<ParameterSpec>()),
            constructor is not null,
            new EquatableArray<MemberSpec>(members.ToArray()),
            new EquatableArray<DiagnosticSpec>(diagnostics.ToArray()),
            new EquatableArray<string>(experimental.ToArray()),
            obsoleteError);
    }

    private static SchemaSpec NotGenerated(string typeName, INamedTypeSymbol type, List<DiagnosticSpec> diagnostics) =>
        new(typeName, MetadataName(type), null, default, false, default, new EquatableArray<DiagnosticSpec>(diagnostics.ToArray()));

    /// <summary>The symbols naming <paramref name="type"/> in C# refers to: the type, its type arguments and element types, the types it is nested in, their assemblies.</summary>
    private static IEnumerable<ISymbol> NamedBy(ITypeSymbol type)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                foreach (var symbol in NamedBy(array.ElementType))
                {
                    yield return symbol;
                }

                break;
            case INamedTypeSymbol named:
                for (var t = named; t is not null; t = t.ContainingType)
                {
                    yield return t;
                    foreach (var argument in t.TypeArguments)
                    {
                        foreach (var symbol in NamedBy(argument))
                        {
                            yield return symbol;
                        }
                    }
                }

                if (named.ContainingAssembly is { } assembly)
                {
                    yield return assembly;
                }

                if (named.ContainingModule is { } module)
                {
                    yield return module;
                }

                break;
        }
    }

    /// <summary>Whether <c>#pragma warning disable</c> can name the id (an identifier; a number would mean CSnnnn).</summary>
    private static bool IsPragmaId(string id) =>
        id.Length > 0 && (char.IsLetter(id[0]) || id[0] == '_') && id.All(c => char.IsLetterOrDigit(c) || c == '_');

    private static string? WhyNotGenerated(INamedTypeSymbol type)
    {
        if (type.IsGenericType)
        {
            return "generic types get no generated accessors";
        }

        if (type.IsFileLocal)
        {
            return "a file-local type cannot be named by generated code";
        }

        for (var t = type; t is not null; t = t.ContainingType)
        {
            if (t.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
            {
                return $"{t.Name} is {(t.DeclaredAccessibility == Accessibility.Private ? "private" : "protected")}, so generated code cannot name it (make it internal or public)";
            }

            if (t.IsGenericType)
            {
                return "types nested in generic types get no generated accessors";
            }
        }

        return null;
    }

    /// <summary>Public instance properties and fields, most derived first, as MemberModel.Discover sees them.</summary>
    private static List<Discovered> Discover(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        var result = new List<Discovered>();
        var byName = new Dictionary<string, Discovered>(StringComparer.Ordinal);
        var parameters = ConstructorParameters(type);
        for (var t = type; t is not null && t.SpecialType is not (SpecialType.System_Object or SpecialType.System_ValueType); t = t.BaseType)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var symbol in t.GetMembers())
            {
                if (symbol.IsStatic || symbol.DeclaredAccessibility != Accessibility.Public || (symbol.IsImplicitlyDeclared && symbol is IFieldSymbol))
                {
                    continue;
                }

                ITypeSymbol memberType;
                bool getter;
                SetterKind setter;
                switch (symbol)
                {
                    case IPropertySymbol { IsIndexer: false } property:
                        memberType = property.Type;
                        getter = property.GetMethod is { DeclaredAccessibility: Accessibility.Public };
                        setter = property.SetMethod is { DeclaredAccessibility: Accessibility.Public } set
                            ? set.IsInitOnly ? SetterKind.InitAccessor : SetterKind.Assign
                            : SetterKind.None;
                        if (!getter && setter == SetterKind.None)
                        {
                            continue;
                        }

                        break;
                    case IFieldSymbol { IsConst: false } field:
                        memberType = field.Type;
                        getter = true;
                        setter = field.IsReadOnly ? SetterKind.None : SetterKind.Assign;
                        break;
                    default:
                        continue;
                }

                if (HasAttribute(symbol, IgnoreAttribute))
                {
                    continue;
                }

                if (byName.TryGetValue(symbol.Name, out var existing))
                {
                    // An override was already seen from the derived side; a `new` member hides: leave both to reflection.
                    if (!(existing.Symbol is IPropertySymbol { IsOverride: true }))
                    {
                        existing.Ambiguous = true;
                    }

                    continue;
                }

                var attribute = FindAttribute(symbol, InputAttribute) ?? FindAttribute(symbol, OutputAttribute);
                if (attribute is null && parameters.TryGetValue(symbol.Name, out var parameter))
                {
                    attribute = FindAttribute(parameter, InputAttribute) ?? FindAttribute(parameter, OutputAttribute);
                }

                var role = attribute?.AttributeClass?.ToDisplayString() switch
                {
                    InputAttribute => Role.Input,
                    OutputAttribute => Role.Output,
                    _ => Role.Unknown,
                };
                var name = attribute is { ConstructorArguments.Length: > 0 } && attribute.ConstructorArguments[0].Value is string n ? n : null;
                var order = -1;
                foreach (var named in attribute?.NamedArguments ?? ImmutableArray<KeyValuePair<string, TypedConstant>>.Empty)
                {
                    if (named.Key == "Order" && named.Value.Value is int o)
                    {
                        order = o;
                    }
                }

                // A ref return: reflection sees the type float[]& (PropertyType), which no binder takes.
                var byRef = symbol is IPropertySymbol { ReturnsByRef: true } or IPropertySymbol { ReturnsByRefReadonly: true };
                var discovered = new Discovered(symbol, memberType, getter, setter, byRef ? MemberShape.Unsupported : Classify(memberType), role, name ?? symbol.Name, name is not null, order)
                {
                    RefKind = byRef ? ((IPropertySymbol)symbol).RefKind : RefKind.None,
                };
                byName[symbol.Name] = discovered;
                result.Add(discovered);
            }
        }

        return result;
    }

    /// <summary>Attributes on positional record parameters land on the constructor parameter; MemberModel honours them.</summary>
    private static Dictionary<string, IParameterSymbol> ConstructorParameters(INamedTypeSymbol type)
    {
        var map = new Dictionary<string, IParameterSymbol>(StringComparer.Ordinal);
        foreach (var ctor in type.InstanceConstructors)
        {
            if (ctor.DeclaredAccessibility != Accessibility.Public)
            {
                continue;
            }

            foreach (var parameter in ctor.Parameters)
            {
                if (!map.ContainsKey(parameter.Name) && (FindAttribute(parameter, InputAttribute) ?? FindAttribute(parameter, OutputAttribute)) is not null)
                {
                    map[parameter.Name] = parameter;
                }
            }
        }

        return map;
    }

    private static void Check(INamedTypeSymbol type, List<Discovered> members, List<DiagnosticSpec> diagnostics)
    {
        var hasInput = members.Any(m => m.Role == Role.Input);
        var hasOutput = members.Any(m => m.Role == Role.Output);
        // A struct, or a type with nothing writable, cannot be an output (start-up: "output types must be classes",
        // "has no member bound to any output"), so without role attributes it is an input.
        var canBeOutput = type.TypeKind == TypeKind.Class && members.Any(m => m.Setter != SetterKind.None);
        foreach (var member in members)
        {
            var role = member.Role != Role.Unknown ? member.Role
                : hasInput && !hasOutput ? Role.Input
                : hasOutput && !hasInput ? Role.Output
                : !hasInput && !hasOutput && !canBeOutput ? Role.Input
                : Role.Unknown;
            member.EffectiveRole = role;
            // MemberModel binds readable members of inputs and writable members of outputs, and ignores the others.
            var asInput = role != Role.Output && member.HasGetter;
            var asOutput = role != Role.Input && member.Setter != SetterKind.None;
            var inputBad = member.Shape is MemberShape.Dictionary or MemberShape.Unsupported;
            var outputBad = member.Shape is MemberShape.Memory or MemberShape.Unsupported;
            var error = role == Role.Unknown
                // No role attribute says how the type is used: an error only if it fails both ways. A get-only
                // member of any type is fine on an output (IrisPrediction.Species => (Species)Label); if the type
                // is used as an input, the start-up check reports it.
                ? asInput && inputBad && asOutput && outputBad
                : (asInput || asOutput) && (!asInput || inputBad) && (!asOutput || outputBad);
            if (error)
            {
                var display = member.RefKind == RefKind.None
                    ? $"{type.Name}.{member.Symbol.Name} is {member.Type.ToDisplayString(MessageFormat)}"
                    : $"{type.Name}.{member.Symbol.Name} returns {(member.RefKind == RefKind.RefReadOnly ? "ref readonly" : "ref")} {member.Type.ToDisplayString(MessageFormat)} (a reference: return the value instead)";
                var message = role == Role.Unknown
                    ? $"'{member.MappedName}': {display}; input {InputSupported.Substring("input ".Length)}; {OutputSupported} (or exclude it with [ModelIgnore])"
                    : asInput
                        ? $"input '{member.MappedName}': {display}; {InputSupported} (or exclude it with [ModelIgnore])"
                        : $"output '{member.MappedName}': {display}; {OutputSupported} (or exclude it with [ModelIgnore])";
                diagnostics.Add(DiagnosticSpec.Create("MIS1001", message, member.Symbol.Locations.FirstOrDefault()));
            }
        }

        // Several members named for one input or output (by attribute): the start-up grouping rules.
        foreach (var group in members.Where(m => m.ExplicitName && m.Role != Role.Unknown).GroupBy(m => (m.Role, m.MappedName)))
        {
            var list = group.ToList();
            if (list.Count < 2)
            {
                continue;
            }

            var kind = group.Key.Role == Role.Input ? "input" : "output";
            var names = string.Join(", ", list.Select(m => $"{type.Name}.{m.Symbol.Name}"));
            var location = list[1].Symbol.Locations.FirstOrDefault();
            if (list.Any(m => m.Shape is MemberShape.Array or MemberShape.Memory or MemberShape.MultiArray or MemberShape.Dictionary))
            {
                diagnostics.Add(DiagnosticSpec.Create("MIS1002", $"{kind} '{group.Key.MappedName}': {names} are all bound to it; bind either one array member or several scalar members", location));
                continue;
            }

            var explicitOrders = list.Count(m => m.Order >= 0);
            if (explicitOrders == 0)
            {
                if (list.Select(m => (m.Symbol.ContainingType.ToDisplayString(), m.Symbol.Kind)).Distinct().Count() > 1)
                {
                    diagnostics.Add(DiagnosticSpec.Create("MIS1003", $"'{group.Key.MappedName}': {names} mix properties and fields or come from several types, so their declaration order is not reliable; give each an explicit Order = 0..{list.Count - 1}", location));
                }

                continue;
            }

            var orders = list.Select(m => m.Order).OrderBy(o => o).ToList();
            if (explicitOrders != list.Count || orders.Where((o, i) => o != i).Any())
            {
                diagnostics.Add(DiagnosticSpec.Create("MIS1003", $"'{group.Key.MappedName}': the Order values of {string.Join(", ", list.Select(m => $"{type.Name}.{m.Symbol.Name}={m.Order}"))} must be 0..{list.Count - 1}, each once, on every member or on none", location));
            }
        }
    }

    /// <summary>SchemaMatcher's choice: the public parameterless constructor, else the longest public one whose parameters are all settable properties.</summary>
    private static ImmutableArray<IParameterSymbol>? FindConstructor(INamedTypeSymbol type, List<Discovered> members)
    {
        if (type.IsValueType || type.IsAbstract || type.TypeKind != TypeKind.Class)
        {
            return null;
        }

        var constructors = type.InstanceConstructors.Where(c => c.DeclaredAccessibility == Accessibility.Public).ToList();
        if (constructors.FirstOrDefault(c => c.Parameters.Length == 0) is not null)
        {
            return ImmutableArray<IParameterSymbol>.Empty;
        }

        var writable = new HashSet<string>(
            members.Where(m => m.Symbol is IPropertySymbol && m.Setter != SetterKind.None).Select(m => m.Symbol.Name),
            StringComparer.OrdinalIgnoreCase);
        foreach (var ctor in constructors.OrderByDescending(c => c.Parameters.Length))
        {
            if (ctor.Parameters.All(p => writable.Contains(p.Name)))
            {
                return ctor.Parameters;
            }
        }

        return null;
    }

    private static MemberShape Classify(ITypeSymbol type)
    {
        if (IsElement(type))
        {
            return MemberShape.Scalar;
        }

        if (type is IArrayTypeSymbol array && IsElement(array.ElementType))
        {
            return array.Rank == 1 ? MemberShape.Array
                : array.ElementType.SpecialType != SpecialType.System_String ? MemberShape.MultiArray
                : MemberShape.Unsupported;
        }

        if (type is INamedTypeSymbol { IsGenericType: true } named)
        {
            var definition = named.OriginalDefinition.ToDisplayString();
            var args = named.TypeArguments;
            if (definition == "System.ReadOnlyMemory<T>" && IsElement(args[0]))
            {
                return MemberShape.Memory;
            }

            if (definition is "System.Collections.Generic.IReadOnlyDictionary<TKey, TValue>" or "System.Collections.Generic.Dictionary<TKey, TValue>" or "System.Collections.Generic.IDictionary<TKey, TValue>"
                && args[0].SpecialType is SpecialType.System_Int64 or SpecialType.System_String
                && args[1].SpecialType is SpecialType.System_Single or SpecialType.System_Double)
            {
                return MemberShape.Dictionary;
            }
        }

        return MemberShape.Unsupported;
    }

    private static bool IsElement(ITypeSymbol type) =>
        type.SpecialType is SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_SByte or SpecialType.System_Int16
            or SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Byte or SpecialType.System_UInt16
            or SpecialType.System_UInt32 or SpecialType.System_UInt64 or SpecialType.System_Boolean or SpecialType.System_String
        || type is INamedTypeSymbol { Name: "Half", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } };

    private static bool HasAttribute(ISymbol symbol, string name) => FindAttribute(symbol, name) is not null;

    private static AttributeData? FindAttribute(ISymbol symbol, string name)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() == name)
            {
                return attribute;
            }
        }

        return null;
    }

    private static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsLetterOrDigit(chars[i]))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    private enum Role
    {
        Unknown,
        Input,
        Output,
    }

    /// <summary>A member while the type is described (holds symbols; never leaves <see cref="Describe"/>).</summary>
    private sealed class Discovered(ISymbol symbol, ITypeSymbol type, bool hasGetter, SetterKind setter, MemberShape shape, Role role, string mappedName, bool explicitName, int order)
    {
        public ISymbol Symbol { get; } = symbol;

        public ITypeSymbol Type { get; } = type;

        public bool HasGetter { get; } = hasGetter;

        public SetterKind Setter { get; } = setter;

        public MemberShape Shape { get; } = shape;

        public Role Role { get; } = role;

        public string MappedName { get; } = mappedName;

        public bool ExplicitName { get; } = explicitName;

        public int Order { get; } = order;

        public bool Ambiguous { get; set; }

        /// <summary>The role the type's attributes (or its shape) give the member; set by Check.</summary>
        public Role EffectiveRole { get; set; }

        /// <summary>How a property returns its value (ref and ref readonly returns are never bound).</summary>
        public RefKind RefKind { get; init; }
    }
}
