using System.Globalization;

namespace ModelInService.Tool;

/// <summary>What the monitor would record for one member.</summary>
/// <param name="Member">The scaffolded member's name (the monitor's feature-name prefix).</param>
/// <param name="Tensor">The model input or output it binds.</param>
/// <param name="Role">Input or output.</param>
/// <param name="PerFeature">Whether each element is profiled as its own feature (false: summaries).</param>
/// <param name="Profile">In words: <c>4 numeric features</c>, <c>summaries of 784 values: L2 norm, mean, 4 random projections</c>.</param>
/// <param name="Features">The feature names when known up front (up to 8 shown, then <c>...</c>).</param>
internal sealed record MonitoredMember(string Member, string Tensor, TensorRole Role, bool PerFeature, string Profile, IReadOnlyList<string> Features);

/// <summary>
/// What <c>.UseMonitoring()</c> would profile for the scaffolded types, with the library's current rule
/// (PredictionRecorder and RowDecoder) and default options: scalars as themselves (strings, booleans and output
/// integers as categories); numeric vectors of up to <see cref="MonitoringOptions.MaxVectorElements"/> element by
/// element (outputs also by top value and margin), longer ones as norm, mean and
/// <see cref="MonitoringOptions.ProjectionCount"/> random projections; string vectors per element up to the limit;
/// dictionaries per key with top, margin and argmax; tabular inputs (rank &lt;= 1 or <c>[batch, F]</c>) per feature up to
/// <see cref="MonitoringOptions.MaxTabularFeatures"/>; rectangular rows like flat vectors; bool vectors not at all.
/// </summary>
/// <remarks>The defaults are read from <see cref="MonitoringOptions"/>, so a changed default shows here without a change to the tool.</remarks>
internal static class MonitorPlan
{
    private const int ShownFeatures = 8;

    /// <summary>The members the monitor would record, inputs first.</summary>
    public static IReadOnlyList<MonitoredMember> Describe(IEnumerable<MemberPlan> members, MonitoringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        options ??= new MonitoringOptions();
        var max = options.MaxVectorElements;
        var result = new List<MonitoredMember>();
        foreach (var m in members)
        {
            if (m.Shape == MemberShape.Unsupported)
            {
                continue;
            }

            var isString = m.ElementType == "string";
            var isBool = m.ElementType == "bool";
            var isInteger = !isString && !isBool && m.ElementType is not ("float" or "double" or "Half");
            var output = m.Tensor.Role == TensorRole.Output;

            // RowDecoder's rule: a numeric input of rank <= 1, or [batch, F] with a fixed F, is tabular and profiled
            // feature by feature up to MaxTabularFeatures; everything else up to MaxVectorElements.
            var dims = m.Tensor.Spec.Dimensions;
            var tabular = !output && !isString && !isBool && m.Shape != MemberShape.Rectangular && (dims.Count <= 1 || (dims.Count == 2 && dims[1] >= 0));
            var limit = tabular ? Math.Max(options.MaxTabularFeatures, max) : max;
            var limitName = tabular ? "MaxTabularFeatures" : "MaxVectorElements";
            MonitoredMember entry;
            if (m.Shape == MemberShape.Scalar)
            {
                // Strings and booleans are categories; integers are categories on outputs (labels), numbers on inputs.
                var kind = isString || isBool || (isInteger && output) ? "categorical" : "numeric";
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true, $"1 {kind} feature", [m.Name]);
            }
            else if (m.Shape == MemberShape.Dictionary)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true,
                    $"one numeric feature per key (up to {max} keys), plus {m.Name}.top, .margin and .argmax", []);
            }
            else if (m.Shape == MemberShape.Rectangular && (isBool || isString))
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false, "not profiled (the monitor records no bool or string rectangular arrays)", []);
            }
            else if (m.Shape == MemberShape.Rectangular)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false,
                    $"row-major values: element by element when a row has at most {max} values, else L2 norm, mean, {options.ProjectionCount} random projections", []);
            }
            else if (isBool)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false, "not profiled (the monitor records no bool arrays)", []);
            }
            else if (isString)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true,
                    $"categorical per element, the first {max} elements (MaxVectorElements)", []);
            }
            else if (m.Tensor.FixedRowElements is { } n && n <= limit)
            {
                var names = Enumerable.Range(0, (int)Math.Min(n, ShownFeatures)).Select(i => string.Create(CultureInfo.InvariantCulture, $"{m.Name}[{i}]")).ToList();
                if (n > ShownFeatures)
                {
                    names.Add("...");
                }

                var extra = output && n >= 2 ? $"; plus {m.Name}.top and .margin" : "";
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true, $"{n} numeric features, one per element{extra}", names);
            }
            else if (m.Tensor.FixedRowElements is { } big)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false,
                    $"summaries of {big} values (more than {limitName} = {limit}): L2 norm, mean, {options.ProjectionCount} random projections", []);
            }
            else
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false,
                    $"variable length: element by element when a row has at most {max} values, else L2 norm, mean, {options.ProjectionCount} random projections", []);
            }

            result.Add(entry);
        }

        return result;
    }
}
