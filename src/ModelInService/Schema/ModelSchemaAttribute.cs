namespace ModelInService;

/// <summary>
/// Asks the ModelInService source generator (shipped in the package as an analyzer) to emit, at compile time, the
/// member access code of an input or output type: a typed getter and setter for each public property and field and,
/// for classes, the constructor call (the parameterless one, or a positional record's primary constructor with
/// defaults). The schema binders, the prediction cache's copier and the monitor's recorder then use those delegates
/// instead of compiling expression trees, which Native AOT can only interpret. The schema rules and messages do not
/// change; a type without the attribute keeps working through reflection. Members the library can never bind and
/// inconsistent mappings are reported at compile time (MIS1001 to MIS1004, docs/aot.md).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class ModelSchemaAttribute : Attribute
{
}
