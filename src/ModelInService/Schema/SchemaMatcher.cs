using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Sessions;

namespace ModelInService.Schema;

/// <summary>
/// Matches <typeparamref name="TInput"/>/<typeparamref name="TOutput"/> against a model's signature once, at load
/// time, and builds the <see cref="TypedBinder{TInput, TOutput}"/> that predictions use. Every mismatch is collected
/// into one <see cref="ModelSchemaException"/> (docs/schemas.md lists the rules).
/// </summary>
/// <remarks>
/// Over 300 lines on purpose: it is one algorithm (group members by tensor, check element types, row shapes and column
/// order, then compile the binders), and its error messages are written next to the checks that raise them.
/// </remarks>
internal static class SchemaMatcher<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TInput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TOutput>
{
    /// <summary>Builds the binder, collecting every mismatch into one <see cref="ModelSchemaException"/>.</summary>
    public static TypedBinder<TInput, TOutput> Bind(string modelName, ModelSignature signature, ModelOptions options)
    {
        var errors = new List<string>();

        // Only the outputs the output type binds are fetched, so only they decide whether rows can share a run.
        var boundOutputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in MemberModel.ForOutput(typeof(TOutput)))
        {
            if (Match(member, signature.Outputs) is { } spec)
            {
                boundOutputs.Add(spec.Name);
            }
        }

        var batching = BatchAxisAnalysis.Analyze(signature, options, boundOutputs, errors);
        var inputs = BindInputs(modelName, signature, options, batching, errors);
        var outputs = BindOutputs(modelName, signature, batching, errors, out var boundOutputMembers);
        var factory = CreateFactory(errors);
        if (errors.Count > 0)
        {
            throw new ModelSchemaException(modelName, errors);
        }

        return new TypedBinder<TInput, TOutput>(modelName, inputs, outputs, factory!, batching, new OutputCopier<TOutput>(factory!, boundOutputMembers));
    }

    private static InputBinder<TInput>[] BindInputs(string modelName, ModelSignature signature, ModelOptions options, ModelBatchingInfo batching, List<string> errors)
    {
        var typeName = typeof(TInput).Name;
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        var groups = Group(MemberModel.ForInput(typeof(TInput)), signature.Inputs, "input", errors, static m => m.Shape is MemberShape.Scalar or MemberShape.Array or MemberShape.Memory or MemberShape.MultiArray,
            "input members must be a scalar (float, double, int, long, byte, bool, string, ...), a T[], a ReadOnlyMemory<T> or a rectangular T[,], T[,,], ... for rows with several free dimensions", rejected);
        var binders = new List<InputBinder<TInput>>();
        foreach (var spec in signature.Inputs)
        {
            if (spec.Kind != ModelValueKind.Tensor)
            {
                errors.Add($"input '{spec.Name}' is a {spec}; typed binding supports tensor inputs only (use IModelRunner for this model)");
                continue;
            }

            if (!groups.TryGetValue(spec.Name, out var members))
            {
                if (rejected.Contains(spec.Name))
                {
                    continue;
                }

                errors.Add($"input '{spec.Name}' ({spec}) has no member on {typeName}; add a property named '{spec.Name}' or mark one with [ModelInput(\"{spec.Name}\")]");
                continue;
            }

            var clr = ModelElementTypes.ClrType(spec.ElementType);
            if (clr is null)
            {
                errors.Add($"input '{spec.Name}' has element type {spec}, which typed binding does not support (use IModelRunner)");
                continue;
            }

            var ok = CheckElementTypes(spec, members, clr, "input", errors);
            var row = new RowShape(spec, batching.Find(spec.Name)?.Axis ?? -1);
            ok &= CheckRowFit(spec, row, members, typeName, "input", errors);
            if (!ok)
            {
                continue;
            }

            var ordered = OrderColumns(spec, members, errors);
            if (ordered is null)
            {
                continue;
            }

            binders.Add(clr == typeof(string)
                ? new StringInputBinder<TInput>(modelName, spec, row, ordered, options)
                : ElementDispatch.Unmanaged(clr, new NumericInputFactory(modelName, spec, row, ordered, options)));
        }

        return binders.ToArray();
    }

    private static OutputBinder<TOutput>[] BindOutputs(string modelName, ModelSignature signature, ModelBatchingInfo batching, List<string> errors, out List<MemberModel> bound)
    {
        bound = [];
        var typeName = typeof(TOutput).Name;
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        if (typeof(TOutput).IsValueType)
        {
            errors.Add($"{typeName} is a struct; output types must be classes or record classes");
            return [];
        }

        var groups = Group(MemberModel.ForOutput(typeof(TOutput)), signature.Outputs, "output", errors, static m => m.Shape is MemberShape.Scalar or MemberShape.Array or MemberShape.MultiArray or MemberShape.Dictionary,
            "output members must be a scalar (float, long, string, ...), a T[], a rectangular T[,], T[,,], ... (the row's shape), or an IReadOnlyDictionary<long|string, float> for seq(map) outputs", rejected);
        var binders = new List<OutputBinder<TOutput>>();
        foreach (var spec in signature.Outputs)
        {
            if (!groups.TryGetValue(spec.Name, out var members))
            {
                continue; // Outputs nobody asked for are not even fetched.
            }

            if (spec.Kind == ModelValueKind.SequenceOfMaps)
            {
                var member = members[0];
                var keyClr = ModelElementTypes.ClrType(spec.MapKeyType);
                var valueClr = ModelElementTypes.ClrType(spec.ElementType);
                if (members.Count > 1)
                {
                    errors.Add($"output '{spec.Name}' ({spec}): {string.Join(", ", members.Select(m => m.DisplayName))} are all bound to it; bind one IReadOnlyDictionary<{ModelElementTypes.CSharpName(keyClr ?? typeof(object))}, {ModelElementTypes.CSharpName(valueClr ?? typeof(object))}> or {ModelElementTypes.CSharpName(valueClr ?? typeof(object))}[] member");
                    continue;
                }

                var fits = keyClr is not null && valueClr is not null && (valueClr == typeof(float) || valueClr == typeof(double)) && (
                    (member.Shape == MemberShape.Dictionary && member.ElementClrType == keyClr && member.Type.GetGenericArguments()[1] == valueClr)
                    || (member.Shape == MemberShape.Array && member.ElementClrType == valueClr));
                if (!fits)
                {
                    errors.Add($"output '{spec.Name}': model returns {spec}; {member.DisplayName} is {member.TypeName} (use IReadOnlyDictionary<{ModelElementTypes.CSharpName(keyClr ?? typeof(object))}, {ModelElementTypes.CSharpName(valueClr ?? typeof(object))}> or {ModelElementTypes.CSharpName(valueClr ?? typeof(object))}[])");
                    continue;
                }

                binders.Add(ElementDispatch.Map<OutputBinder<TOutput>>(
                    keyClr!,
                    valueClr!,
                    () => new MapOutputBinder<TOutput, long, float>(modelName, spec, member),
                    () => new MapOutputBinder<TOutput, long, double>(modelName, spec, member),
                    () => new MapOutputBinder<TOutput, string, float>(modelName, spec, member),
                    () => new MapOutputBinder<TOutput, string, double>(modelName, spec, member)));
                bound.Add(member);
                continue;
            }

            if (spec.Kind != ModelValueKind.Tensor)
            {
                errors.Add($"output '{spec.Name}' is a {spec}; typed binding supports tensors and seq(map) outputs only (use IModelRunner)");
                continue;
            }

            var clr = ModelElementTypes.ClrType(spec.ElementType);
            if (clr is null)
            {
                errors.Add($"output '{spec.Name}' has element type {spec}, which typed binding does not support");
                continue;
            }

            foreach (var member in members)
            {
                if (member.Shape == MemberShape.Dictionary)
                {
                    errors.Add($"output '{spec.Name}': model returns {spec}; {member.DisplayName} is {member.TypeName}, which only fits seq(map) outputs (use {ModelElementTypes.CSharpName(clr)}[])");
                }
            }

            var ok = CheckElementTypes(spec, members.Where(m => m.Shape != MemberShape.Dictionary).ToList(), clr, "output", errors);
            if (members.Any(m => m.Shape == MemberShape.Dictionary))
            {
                continue;
            }

            // Whatever its symbol, the batch axis decided for this output (a free first dimension unless overridden);
            // the row count is checked at unpack, so a free dimension that is not the batch fails the run, not the caller.
            var axis = batching.Find(spec.Name, isInput: false)?.Axis ?? -1;
            var row = new RowShape(spec, axis);
            ok &= CheckRowFit(spec, row, members, typeName, "output", errors);
            if (!ok)
            {
                continue;
            }

            var ordered = OrderColumns(spec, members, errors);
            if (ordered is null)
            {
                continue;
            }

            binders.Add(clr == typeof(string)
                ? new StringOutputBinder<TOutput>(modelName, spec, ordered)
                : ElementDispatch.Unmanaged(clr, new TensorOutputFactory(modelName, spec, ordered, axis)));
            bound.AddRange(ordered);
        }

        if (groups.Count == 0 && !errors.Any(e => e.StartsWith(typeName + ".", StringComparison.Ordinal)))
        {
            errors.Add($"{typeName} has no member bound to any output (outputs: {string.Join(", ", signature.Outputs.Select(o => $"'{o.Name}' {o}"))})");
        }

        return binders.ToArray();
    }

    private static Dictionary<string, List<MemberModel>> Group(List<MemberModel> members, IReadOnlyList<TensorSpec> specs, string kind, List<string> errors, Func<MemberModel, bool> supported, string supportedText, HashSet<string> rejected)
    {
        var groups = new Dictionary<string, List<MemberModel>>(StringComparer.Ordinal);
        foreach (var member in members)
        {
            var spec = Match(member, specs);
            if (spec is null)
            {
                var available = string.Join(", ", specs.Select(s => $"'{s.Name}'"));
                errors.Add(member.ExplicitName
                    ? $"{member.DisplayName} is mapped to {kind} '{member.MappedName}', but the model has no such {kind} ({kind}s: {available})"
                    : $"{member.DisplayName} does not match any model {kind} ({kind}s: {available}); map it with [Model{(kind == "input" ? "Input" : "Output")}(\"...\")] or exclude it with [ModelIgnore]");
                continue;
            }

            if (!supported(member))
            {
                errors.Add(member.Type.IsByRef
                    ? $"{kind} '{spec.Name}': {member.DisplayName} is {member.TypeName}, a ref-returning property, which cannot be bound; make it a plain property of type {ModelElementTypes.CSharpName(member.Type.GetElementType()!)}"
                    : $"{kind} '{spec.Name}': {member.DisplayName} is {member.TypeName}; {supportedText}");
                rejected.Add(spec.Name);
                continue;
            }

            if (!groups.TryGetValue(spec.Name, out var list))
            {
                groups[spec.Name] = list = [];
            }

            list.Add(member);
        }

        return groups;
    }

    private static TensorSpec? Match(MemberModel member, IReadOnlyList<TensorSpec> specs)
    {
        foreach (var spec in specs)
        {
            if (string.Equals(spec.Name, member.MappedName, StringComparison.Ordinal))
            {
                return spec;
            }
        }

        if (member.ExplicitName)
        {
            return null;
        }

        foreach (var spec in specs)
        {
            if (string.Equals(spec.Name, member.MappedName, StringComparison.OrdinalIgnoreCase))
            {
                return spec;
            }
        }

        return null;
    }

    private static bool CheckElementTypes(TensorSpec spec, List<MemberModel> members, Type clr, string kind, List<string> errors)
    {
        var ok = true;
        foreach (var member in members)
        {
            if (member.ElementClrType != clr)
            {
                errors.Add($"{kind} '{spec.Name}': model {(kind == "input" ? "expects" : "returns")} {spec}; {member.DisplayName} is {member.TypeName} (element type must be {ModelElementTypes.CSharpName(clr)})");
                ok = false;
            }
        }

        return ok;
    }

    private static bool CheckRowFit(TensorSpec spec, RowShape row, List<MemberModel> members, string typeName, string kind, List<string> errors)
    {
        var verb = kind == "input" ? "expects" : "returns";
        var vectors = members.Where(m => m.Shape is MemberShape.Array or MemberShape.Memory or MemberShape.MultiArray).ToList();
        if (vectors.Count > 0 && members.Count > 1)
        {
            errors.Add($"{kind} '{spec.Name}' ({spec}): {string.Join(", ", members.Select(m => m.DisplayName))} are all bound to it; bind either one array member or several scalar members");
            return false;
        }

        if (vectors.Count == 1)
        {
            var vector = vectors[0];
            if (kind == "output" && vector.Shape == MemberShape.Memory)
            {
                errors.Add($"output '{spec.Name}': {vector.DisplayName} is {vector.TypeName}; output arrays must be T[]");
                return false;
            }

            if (vector.Shape == MemberShape.MultiArray)
            {
                var rank = vector.Type.GetArrayRank();
                if (rank != row.RowDims.Length)
                {
                    errors.Add($"{kind} '{spec.Name}': model {verb} {spec}, a row of {TensorSpec.DescribeShape(row.RowDims)} ({row.RowDims.Length} dimension{(row.RowDims.Length == 1 ? "" : "s")}); {vector.DisplayName} is {vector.TypeName} with {rank} (use {RectangularName(vector.ElementClrType!, row.RowDims.Length)})");
                    return false;
                }

                return true;
            }

            if (kind == "input" && row.FreeCount > 1)
            {
                errors.Add($"input '{spec.Name}': model expects {spec}, a row of {TensorSpec.DescribeShape(row.RowDims)} with {row.FreeCount} free dimensions; {vector.DisplayName} is a flat {vector.TypeName} that can fill at most one (use a {RectangularName(vector.ElementClrType!, row.RowDims.Length)} member, whose lengths give every dimension)");
                return false;
            }

            return true;
        }

        if (row.IsVariable)
        {
            if (kind == "input")
            {
                errors.Add($"input '{spec.Name}': model expects {spec}, a row whose length varies; {string.Join(", ", members.Select(m => m.DisplayName))} {(members.Count == 1 ? "is a scalar" : "are scalars")} (use an array member)");
                return false;
            }

            return true; // Checked when the output arrives.
        }

        if (members.Count != row.FixedElements)
        {
            var names = string.Join(", ", members.Select(m => m.Member.Name));
            errors.Add($"{kind} '{spec.Name}': model {verb} {spec} ({row.FixedElements} per row); {typeName} binds {members.Count} scalar member{(members.Count == 1 ? "" : "s")} to it ({names})");
            return false;
        }

        return true;
    }

    private static string RectangularName(Type element, int rank) =>
        rank <= 1 ? ModelElementTypes.CSharpName(element) + "[]" : ModelElementTypes.CSharpName(element) + "[" + new string(',', rank - 1) + "]";

    private static List<MemberModel>? OrderColumns(TensorSpec spec, List<MemberModel> members, List<string> errors)
    {
        if (members.Count == 1)
        {
            return members;
        }

        var explicitOrders = members.Count(m => m.Order >= 0);
        if (explicitOrders == 0)
        {
            // Declaration order is only knowable among properties (or among fields) declared in one type: reflection
            // gives no order across properties and fields, base and derived types.
            var mixed = members.Select(m => (m.Member.DeclaringType, m.Member.MemberType)).Distinct().Count() > 1;
            if (mixed)
            {
                errors.Add($"'{spec.Name}': {string.Join(", ", members.Select(m => m.DisplayName))} mix properties and fields or come from several types, so their declaration order is not reliable; give each an explicit Order = 0..{members.Count - 1}");
                return null;
            }

            return members.OrderBy(m => m.DeclarationIndex).ToList();
        }

        var orders = members.Select(m => m.Order).OrderBy(o => o).ToList();
        if (explicitOrders != members.Count || orders.Where((o, i) => o != i).Any())
        {
            errors.Add($"'{spec.Name}': the Order values of {string.Join(", ", members.Select(m => $"{m.DisplayName}={m.Order}"))} must be 0..{members.Count - 1}, each once, on every member or on none");
            return null;
        }

        return members.OrderBy(m => m.Order).ToList();
    }

    private static Func<TOutput>? CreateFactory(List<string> errors)
    {
        var type = typeof(TOutput);
        if (type.IsValueType)
        {
            return null;
        }

        if (type.IsAbstract || type.IsInterface)
        {
            errors.Add($"{type.Name} is abstract; output types must be concrete classes or records");
            return null;
        }

        // The source generator's constructor call (same choice as below: parameterless, else the positional one).
        if (SchemaAccessors.Factory<TOutput>() is { } generated)
        {
            return generated;
        }

        var parameterless = type.GetConstructor(Type.EmptyTypes);
        if (parameterless is not null)
        {
            return Expression.Lambda<Func<TOutput>>(Expression.New(parameterless)).Compile();
        }

        // Positional records: call the primary constructor with defaults, then set the (init) properties.
        var writable = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }).Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var ctor in type.GetConstructors().OrderByDescending(c => c.GetParameters().Length))
        {
            var parameters = ctor.GetParameters();
            if (parameters.All(p => p.Name is not null && writable.Contains(p.Name)))
            {
                var args = parameters.Select(p => (Expression)Expression.Default(p.ParameterType));
                return Expression.Lambda<Func<TOutput>>(Expression.New(ctor, args)).Compile();
            }
        }

        errors.Add($"{type.Name} needs a public parameterless constructor, or a positional record constructor whose parameters are its settable properties");
        return null;
    }

    /// <summary>A <see cref="NumericInputBinder{TInput, T}"/> for the input's element type.</summary>
    private sealed class NumericInputFactory(string modelName, TensorSpec spec, RowShape row, IReadOnlyList<MemberModel> members, ModelOptions options) : IUnmanagedElementVisitor<InputBinder<TInput>>
    {
        public InputBinder<TInput> Visit<T>()
            where T : unmanaged => new NumericInputBinder<TInput, T>(modelName, spec, row, members, options);
    }

    /// <summary>A <see cref="TensorOutputBinder{TOutput, T}"/> for the output's element type.</summary>
    private sealed class TensorOutputFactory(string modelName, TensorSpec spec, IReadOnlyList<MemberModel> members, int axis) : IUnmanagedElementVisitor<OutputBinder<TOutput>>
    {
        public OutputBinder<TOutput> Visit<T>()
            where T : unmanaged => new TensorOutputBinder<TOutput, T>(modelName, spec, members, axis);
    }
}
