using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace ModelInService.Generators;

/// <summary>How a member's type carries values (the runtime's MemberShape).</summary>
internal enum MemberShape
{
    Scalar,
    Array,
    Memory,
    MultiArray,
    Dictionary,
    Unsupported,
}

/// <summary>How the generated setter writes the member.</summary>
internal enum SetterKind
{
    None,
    Assign,
    InitAccessor,
}

/// <summary>One public property or field, as the runtime's MemberModel discovers it. Strings only: no symbols in the pipeline.</summary>
internal sealed record MemberSpec(
    string Name,
    string TypeName,
    string DeclaringTypeName,
    bool HasGetter,
    SetterKind Setter,
    string SetterValueType,
    bool NeedsCast);

/// <summary>
/// What is emitted for one [ModelSchema] type. <see cref="ClassName"/> is the readable name of the generated class
/// (null when nothing is generated); it can be shared with another type, so the emitted name is made unique from it
/// and <see cref="MetadataName"/> (SchemaGenerator.UniqueClassNames). <see cref="ExperimentalIds"/> are the
/// diagnostic ids of the [Experimental] symbols the generated code names (suppressed there);
/// <see cref="ObsoleteContext"/> is set when one of them is [Obsolete(error: true)] (the class is marked [Obsolete],
/// inside which the compiler reports no use of an obsolete symbol).
/// </summary>
internal sealed record SchemaSpec(
    string TypeName,
    string MetadataName,
    string? ClassName,
    EquatableArray<ParameterSpec> Constructor,
    bool HasFactory,
    EquatableArray<MemberSpec> Members,
    EquatableArray<DiagnosticSpec> Diagnostics,
    EquatableArray<string> ExperimentalIds = default,
    bool ObsoleteContext = false);

/// <summary>A constructor parameter of the factory (its type; the value passed is the default).</summary>
internal sealed record ParameterSpec(string TypeName);

/// <summary>A diagnostic with its location as plain values (a <see cref="Location"/> would hold a syntax tree).</summary>
internal sealed record DiagnosticSpec(string Id, string Message, string? FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public static DiagnosticSpec Create(string id, string message, Location? location) =>
        location is { SourceTree: not null }
            ? new DiagnosticSpec(id, message, location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span)
            : new DiagnosticSpec(id, message, null, default, default);

    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(
            SchemaDiagnostics.Find(Id),
            FilePath is null ? Location.None : Location.Create(FilePath, Span, LineSpan),
            Message);
}
