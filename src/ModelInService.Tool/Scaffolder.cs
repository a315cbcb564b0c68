using System.Text;

namespace ModelInService.Tool;

/// <summary>One generated source file.</summary>
/// <param name="FileName">The file name (<c>IrisMlpInput.cs</c>).</param>
/// <param name="Text">The C# source.</param>
internal sealed record GeneratedFile(string FileName, string Text);

/// <summary>The result of scaffolding: the files, the class names, and warnings about inputs or outputs left unmapped.</summary>
/// <param name="InputClass">The input class's name.</param>
/// <param name="OutputClass">The output class's name.</param>
/// <param name="Files">The input class's file, then the output class's.</param>
/// <param name="Warnings">One line per input or output that no member could bind.</param>
/// <param name="Registration">The registration that binds the classes: <c>services.AddModel&lt;TIn, TOut&gt;("file.onnx")</c>, with the declared batch axes as <c>o.BatchAxes[...]</c>.</param>
/// <param name="Unregistrable">Why <c>AddModel&lt;TIn, TOut&gt;</c> will refuse the classes (an input without a member, no output with one), or null.</param>
internal sealed record ScaffoldResult(string InputClass, string OutputClass, IReadOnlyList<GeneratedFile> Files, IReadOnlyList<string> Warnings, string Registration, string? Unregistrable);

/// <summary>Writes the C# input and output classes for a model: one member per input/output with its attribute and doc comment.</summary>
internal static class Scaffolder
{
    /// <summary>Generates the classes.</summary>
    /// <param name="model">The loaded model.</param>
    /// <param name="batching">How it batches (decides what one row, hence one member, holds).</param>
    /// <param name="ns">The namespace of the classes.</param>
    /// <param name="prefix">The class-name prefix (<c>IrisMlp</c> gives <c>IrisMlpInput</c> and <c>IrisMlpOutput</c>).</param>
    public static ScaffoldResult Generate(LoadedModel model, BatchDescription batching, string ns, string prefix)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!CSharpNames.IsValidNamespace(ns))
        {
            throw new ArgumentException($"'{ns}' is not a valid C# namespace.", nameof(ns));
        }

        var baseName = CSharpNames.ToPascal(prefix);
        var inputClass = baseName + "Input";
        var outputClass = baseName + "Output";
        var (inputs, outputs) = MemberPlanner.Plan(batching, inputClass, outputClass);
        var warnings = new List<string>();
        var fileName = Path.GetFileName(model.Path);
        ArgumentNullException.ThrowIfNull(batching);
        var batchingLine = batching.Batchable
            ? "The model is batchable: each member holds one row (the tensor without its batch axis)."
            : "The model is not batchable, so each request runs alone: a member holds one row of a tensor with a batch axis, the whole tensor otherwise.";
        var registration = Registration(inputClass, outputClass, fileName, model.BatchAxes);

        var input = Write(ns, inputClass, "ModelInput", inputs, warnings,
            $"The inputs of <c>{CSharpNames.Xml(fileName)}</c>: one member per model input.",
            batchingLine, model, registration);
        var output = Write(ns, outputClass, "ModelOutput", outputs, warnings,
            $"The outputs of <c>{CSharpNames.Xml(fileName)}</c>: one member per model output.",
            batchingLine, model, registration);
        return new ScaffoldResult(inputClass, outputClass, [new GeneratedFile(inputClass + ".cs", input), new GeneratedFile(outputClass + ".cs", output)], warnings, registration,
            Unregistrable(inputs, outputs));
    }

    /// <summary>The typed binder needs a member for every input and for at least one output (the library refuses the classes at start-up otherwise).</summary>
    private static string? Unregistrable(IReadOnlyList<MemberPlan> inputs, IReadOnlyList<MemberPlan> outputs)
    {
        foreach (var m in inputs)
        {
            if (m.Shape == MemberShape.Unsupported)
            {
                return $"input '{m.Tensor.Spec.Name}' ({m.Tensor.Spec}) has no member, and every input needs one";
            }
        }

        foreach (var m in outputs)
        {
            if (m.Shape != MemberShape.Unsupported)
            {
                return null;
            }
        }

        return outputs.Count == 0 ? "the model has no outputs" : "no output has a member, and at least one must be bound";
    }

    /// <summary>The <c>AddModel</c> call, with an options lambda setting <c>BatchAxes</c> when axes were declared.</summary>
    private static string Registration(string inputClass, string outputClass, string fileName, IReadOnlyDictionary<string, int> batchAxes)
    {
        var call = $"services.AddModel<{inputClass}, {outputClass}>({CSharpNames.Literal(fileName)}";
        if (batchAxes.Count == 0)
        {
            return call + ")";
        }

        var axes = batchAxes.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"o.BatchAxes[{CSharpNames.Literal(p.Key)}] = {p.Value};"));
        return call + ", o => { " + string.Join(" ", axes) + " })";
    }

    private static string Write(
        string ns,
        string className,
        string attribute,
        IReadOnlyList<MemberPlan> members,
        List<string> warnings,
        string summary,
        string batchingLine,
        LoadedModel model,
        string registration)
    {
        var sb = new StringBuilder();
        sb.Append("// <auto-generated>\n")
          .Append("// Generated by `mis scaffold` (ModelInService.Tool) from ").Append(CSharpNames.OneLine(Path.GetFileName(model.Path))).Append(".\n")
          .Append("// Regenerate rather than edit when the model changes.\n")
          .Append("// </auto-generated>\n")
          .Append("#nullable enable\n\n");
        if (members.Any(m => m.Shape != MemberShape.Unsupported && m.ElementType == "Half"))
        {
            sb.Append("using System;\n");
        }

        if (members.Any(m => m.Shape == MemberShape.Dictionary))
        {
            sb.Append("using System.Collections.Generic;\n");
        }

        sb.Append("using ModelInService;\n\n")
          .Append("namespace ").Append(ns).Append(";\n\n")
          .Append("/// <summary>").Append(summary).Append("</summary>\n")
          .Append("/// <remarks>\n")
          .Append("/// ").Append(batchingLine).Append('\n')
          .Append("/// Register with <c>").Append(CSharpNames.Xml(registration)).Append("</c>.\n")
          .Append("/// </remarks>\n")
          .Append("public sealed class ").Append(className).Append('\n')
          .Append("{\n");
        var first = true;
        foreach (var m in members)
        {
            var role = m.Tensor.Role == TensorRole.Input ? "input" : "output";
            if (m.Shape == MemberShape.Unsupported)
            {
                var why = $"{role} '{m.Tensor.Spec.Name}' ({m.Tensor.Spec}) has no C# member type: use IModelRunner for this model";
                if (m.Tensor.Role == TensorRole.Output)
                {
                    why = $"{role} '{m.Tensor.Spec.Name}' ({m.Tensor.Spec}) is not mapped: no C# member type binds it, and outputs without a member are not fetched";
                }

                warnings.Add(why);
                if (!first)
                {
                    sb.Append('\n');
                }

                sb.Append("    // ").Append(CSharpNames.OneLine(why)).Append('\n');
                first = false;
                continue;
            }

            if (!first)
            {
                sb.Append('\n');
            }

            first = false;
            sb.Append("    /// <summary>\n")
              .Append("    /// Model ").Append(role).Append(" <c>").Append(CSharpNames.Xml(m.Tensor.Spec.Name)).Append("</c>: ")
              .Append(CSharpNames.Xml(m.Tensor.Spec.ToString())).Append(".\n")
              .Append("    /// ").Append(CSharpNames.Xml(DescribeMember(m))).Append('\n')
              .Append("    /// </summary>\n")
              .Append("    [").Append(attribute).Append('(').Append(CSharpNames.Literal(m.Tensor.Spec.Name)).Append(")]\n")
              .Append("    public ").Append(m.TypeName).Append(' ').Append(m.Name).Append(" { get; set; }");
            if (m.Initializer is { } init)
            {
                sb.Append(" = ").Append(init).Append(';');
            }

            sb.Append('\n');
        }

        sb.Append("}\n");
        return sb.ToString();
    }

    private static string DescribeMember(MemberPlan m)
    {
        var axis = m.Tensor.BatchAxis is null
            ? m.Tensor.PerRunConstant ? "No batch axis (one value per run: rows batched together share it): " : "The whole tensor: "
            : m.Shape == MemberShape.Dictionary ? "" : $"Batch axis {m.Tensor.DescribeAxis()}; one row: ";
        var row = m.DescribeRow();
        return (axis.Length == 0 ? char.ToUpperInvariant(row[0]) + row[1..] : axis + row) + ".";
    }
}
