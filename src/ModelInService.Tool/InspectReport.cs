using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace ModelInService.Tool;

/// <summary>One input or output in the report.</summary>
internal sealed record TensorReport(
    string Name,
    string Kind,
    string ElementType,
    IReadOnlyList<long> Dimensions,
    IReadOnlyList<string> SymbolicDimensions,
    string Description,
    int? BatchAxis,
    string BatchAxisDescription,
    bool PerRunConstant,
    string Row,
    string Member,
    string CSharpType);

/// <summary>The batching decision in the report.</summary>
internal sealed record BatchingReport(bool Batchable, string Reason, BucketKind Buckets, IReadOnlyList<string> BucketKeys);

/// <summary>Everything <c>mis inspect</c> prints, also its JSON document.</summary>
internal sealed record InspectReport(
    string Path,
    long FileSize,
    double LoadMilliseconds,
    string Producer,
    string ProducerVersion,
    long IrVersion,
    string Domain,
    long ModelVersion,
    IReadOnlyList<OpsetImport> Opsets,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<TensorReport> Inputs,
    IReadOnlyList<TensorReport> Outputs,
    BatchingReport Batching,
    IReadOnlyList<string> GraphEdits,
    IReadOnlyList<string> RuntimeMessages,
    IReadOnlyList<MonitoredMember> Monitor,
    IReadOnlyList<TimingResult> Timing)
{
    /// <summary>The batch sizes timed for a batchable model.</summary>
    public static readonly IReadOnlyList<int> BatchSizes = [1, 32];

    /// <summary>Builds the report: the batching decision, members, monitor plan and, unless <paramref name="time"/> is false, timings.</summary>
    public static InspectReport Build(LoadedModel model, BatchDescription batching, SyntheticData data, bool time)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batching);
        var prefix = CSharpNames.PrefixFromPath(model.Path);
        var (inputs, outputs) = MemberPlanner.Plan(batching, prefix + "Input", prefix + "Output");
        var timing = time
            ? Tool.Timing.Measure(model.Path, batching, data, batching.Batchable ? BatchSizes : [1])
            : [];
        var sig = model.Signature;
        return new InspectReport(
            model.Path,
            model.FileSize,
            model.LoadTime.TotalMilliseconds,
            sig.ProducerName.Length > 0 ? sig.ProducerName : model.Header.ProducerName,
            model.Header.ProducerVersion,
            model.Header.IrVersion,
            model.Header.Domain,
            model.Header.ModelVersion,
            model.Header.Opsets,
            sig.Metadata,
            inputs.Select(Tensor).ToList(),
            outputs.Select(Tensor).ToList(),
            new BatchingReport(batching.Batchable, batching.Reason, batching.Buckets, batching.BucketKeys),
            model.GraphEdits,
            model.RuntimeMessages,
            MonitorPlan.Describe(inputs.Concat(outputs)),
            timing);
    }

    private static TensorReport Tensor(MemberPlan m)
    {
        var s = m.Tensor.Spec;
        return new TensorReport(
            s.Name,
            s.Kind.ToString(),
            s.ElementType.ToString(),
            s.Dimensions,
            s.SymbolicDimensions,
            s.ToString(),
            m.Tensor.BatchAxis,
            m.Tensor.DescribeAxis(),
            m.Tensor.PerRunConstant,
            m.Shape == MemberShape.Unsupported ? "not bindable" : m.DescribeRow(),
            m.Shape == MemberShape.Unsupported ? "" : m.Name,
            m.TypeName);
    }

    /// <summary>The human-readable report.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"Model      {Path} ({FileSize:N0} bytes, loaded in {LoadMilliseconds:F0} ms)\n");
        var producer = Producer.Length == 0 ? "(not recorded)" : Producer + (ProducerVersion.Length > 0 ? " " + ProducerVersion : "");
        sb.Append(inv, $"Producer   {producer}; IR version {IrVersion}; opsets {string.Join(", ", Opsets.Select(o => $"{o.Domain} {o.Version}"))}");
        if (ModelVersion != 0)
        {
            sb.Append(inv, $"; model version {ModelVersion}");
        }

        sb.Append('\n');
        if (Metadata.Count == 0)
        {
            sb.Append("Metadata   (none)\n");
        }
        else
        {
            var first = true;
            foreach (var (key, value) in Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var shown = value.Length > 100 ? value[..100] + "..." : value;
                sb.Append(first ? "Metadata   " : "           ").Append(key).Append(" = ").Append(shown.ReplaceLineEndings(" ")).Append('\n');
                first = false;
            }
        }

        AppendTensors(sb, "Inputs", Inputs);
        AppendTensors(sb, "Outputs", Outputs);
        sb.Append('\n');
        sb.Append("Batching   ").Append(Batching.Reason).Append('\n');
        sb.Append("Buckets    ").Append(DescribeBuckets()).Append('\n');
        for (var i = 0; i < GraphEdits.Count; i++)
        {
            sb.Append(i == 0 ? "Graph      " : "           ").Append(GraphEdits[i]).Append('\n');
        }

        for (var i = 0; i < RuntimeMessages.Count; i++)
        {
            sb.Append(i == 0 ? "Runtime    " : "           ").Append(RuntimeMessages[i]).Append('\n');
        }
        sb.Append('\n').Append("Monitor    (with .UseMonitoring() and default MonitoringOptions)\n");
        foreach (var m in Monitor)
        {
            sb.Append("  ").Append(m.Role == TensorRole.Input ? "input  " : "output ").Append(m.Member).Append(": ").Append(m.Profile);
            if (m.Features.Count > 1)
            {
                sb.Append(" (").Append(string.Join(", ", m.Features)).Append(')');
            }

            sb.Append('\n');
        }

        if (Timing.Count > 0)
        {
            sb.Append('\n').Append("Timing     one ONNX Runtime session, synthetic inputs (free dimensions ").Append(SyntheticData.DefaultFreeDimension).Append(" unless --dim)\n");
            foreach (var t in Timing)
            {
                sb.Append(inv, $"  batch {t.Batch,3}: ");
                sb.Append(t.Error is null
                    ? string.Create(inv, $"{t.RunMilliseconds:F2} ms (first run at this shape {t.FirstRunMilliseconds:F2} ms)")
                    : "failed: " + t.Error);
                sb.Append('\n');
            }

            if (!Batching.Batchable)
            {
                sb.Append("  batch  32: not timed (not batchable)\n");
            }
        }

        return sb.ToString();
    }

    private string DescribeBuckets()
    {
        if (!Batching.Batchable)
        {
            return "none (not batchable)";
        }

        var keys = string.Join(", ", Batching.BucketKeys);
        return Batching.Buckets switch
        {
            BucketKind.Length => "length buckets: rows of the same length run together, keyed by " + keys,
            BucketKind.Shape => "shape buckets: rows of the same shape run together, keyed by " + keys,
            _ => Batching.BucketKeys.Count > 0
                ? "by value: rows run together must share " + keys
                : "none: every row has the same shape",
        };
    }

    private static void AppendTensors(StringBuilder sb, string title, IReadOnlyList<TensorReport> tensors)
    {
        sb.Append('\n').Append(title).Append('\n');
        if (tensors.Count == 0)
        {
            sb.Append("  (none)\n");
            return;
        }

        var nameWidth = tensors.Max(t => t.Name.Length);
        var descWidth = tensors.Max(t => t.Description.Length);
        var axisWidth = tensors.Max(t => t.BatchAxisDescription.Length);
        foreach (var t in tensors)
        {
            sb.Append("  ").Append(t.Name.PadRight(nameWidth)).Append("  ").Append(t.Description.PadRight(descWidth))
              .Append("  batch axis ").Append(t.BatchAxisDescription.PadRight(axisWidth)).Append("  row: ").Append(t.Row);
            if (t.Member.Length > 0)
            {
                sb.Append(" -> ").Append(t.CSharpType).Append(' ').Append(t.Member);
            }

            sb.Append('\n');
        }
    }
}

/// <summary>The JSON serialization of <see cref="InspectReport"/> (source-generated, camelCase, enums as strings).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(InspectReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext
{
}
