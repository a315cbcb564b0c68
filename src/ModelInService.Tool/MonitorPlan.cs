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
/// What <c>.UseMonitoring()</c> would profile for the scaffolded types, with the library's current rule and default
/// options: scalars as themselves (integers, booleans and strings as categories); vectors of up to
/// <see cref="MonitoringOptions.MaxVectorElements"/> element by element, longer ones as norm, mean and
/// <see cref="MonitoringOptions.ProjectionCount"/> random projections; dictionaries per key.
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

            var categorical = m.ElementType is "string" or "bool" or "long" or "int" or "short" or "sbyte" or "byte" or "ushort" or "uint" or "ulong";
            var kind = categorical ? "categorical" : "numeric";
            MonitoredMember entry;
            if (m.Shape == MemberShape.Scalar)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true, $"1 {kind} feature", [m.Name]);
            }
            else if (m.Shape == MemberShape.Dictionary)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true,
                    $"one numeric feature per key (up to {max} keys), plus {m.Name}.top, .margin and .argmax", []);
            }
            else if (m.Tensor.FixedRowElements is { } n && n <= max)
            {
                var names = Enumerable.Range(0, (int)Math.Min(n, ShownFeatures)).Select(i => string.Create(CultureInfo.InvariantCulture, $"{m.Name}[{i}]")).ToList();
                if (n > ShownFeatures)
                {
                    names.Add("...");
                }

                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, true, $"{n} {kind} features, one per element", names);
            }
            else if (m.Tensor.FixedRowElements is { } big)
            {
                entry = new(m.Name, m.Tensor.Spec.Name, m.Tensor.Role, false,
                    $"summaries of {big} values (more than MaxVectorElements = {max}): L2 norm, mean, {options.ProjectionCount} random projections", []);
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
