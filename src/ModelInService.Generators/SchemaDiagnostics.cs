using Microsoft.CodeAnalysis;

namespace ModelInService.Generators;

/// <summary>
/// What a [ModelSchema] type gets wrong that the start-up ModelSchemaException would report anyway, said at compile
/// time in the same words. Checks that need the model file (names, element types, shapes) stay at start-up.
/// </summary>
internal static class SchemaDiagnostics
{
    private const string Category = "ModelInService.Schema";

    /// <summary>A member whose type the library can never bind.</summary>
    public static readonly DiagnosticDescriptor UnsupportedMemberType = new(
        "MIS1001", "Member type cannot be bound to a model tensor", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>Several members on one input or output name where one of them is an array.</summary>
    public static readonly DiagnosticDescriptor DuplicateName = new(
        "MIS1002", "Several members are bound to one input or output with an array among them", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>Scalar columns of one tensor whose Order values are not 0..n-1.</summary>
    public static readonly DiagnosticDescriptor BadOrder = new(
        "MIS1003", "The Order values of the columns of one input or output are not 0..n-1", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>A type the generated code cannot name (private, protected, generic): reflection stays in use.</summary>
    public static readonly DiagnosticDescriptor NotGenerated = new(
        "MIS1004", "No accessors generated for the type", "{0}", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    /// <summary>A member whose setter cannot be generated (an init accessor declared in a generic type): reflection sets it.</summary>
    public static readonly DiagnosticDescriptor MemberNotGenerated = new(
        "MIS1005", "No setter generated for the member", "{0}", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static DiagnosticDescriptor Find(string id) => id switch
    {
        "MIS1001" => UnsupportedMemberType,
        "MIS1002" => DuplicateName,
        "MIS1003" => BadOrder,
        "MIS1005" => MemberNotGenerated,
        _ => NotGenerated,
    };
}
