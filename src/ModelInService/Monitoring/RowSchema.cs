using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>How one member's values are laid out in a <see cref="RecordBlock"/>.</summary>
internal enum SlotEncoding
{
    /// <summary>One number.</summary>
    Number,

    /// <summary>One label (string, possibly null).</summary>
    Label,

    /// <summary>A count (−1 for a null vector), then that many numbers.</summary>
    NumberVector,

    /// <summary>A count in the numbers, then that many labels.</summary>
    LabelVector,

    /// <summary>A count, then (key, value) number pairs.</summary>
    CodeDictionary,

    /// <summary>A count, then that many values in the numbers and keys in the labels.</summary>
    LabelDictionary,
}

/// <summary>One member of the input or output type, as the consumer decodes it.</summary>
/// <param name="Name">The member name (the feature name, or its prefix).</param>
/// <param name="Role">Input or output.</param>
/// <param name="Encoding">The layout.</param>
/// <param name="Categorical">Whether numbers are category codes (integers, booleans, labels).</param>
/// <param name="Tensor">The model input or output the member binds to (null for pipeline requests and responses).</param>
internal sealed record SlotDescriptor(string Name, FeatureRole Role, SlotEncoding Encoding, bool Categorical, string? Tensor = null);

/// <summary>The members a recorder writes per row, in order, and whether each row starts with a prediction id label.</summary>
internal sealed class RowSchema(IReadOnlyList<SlotDescriptor> slots, bool hasId)
{
    public IReadOnlyList<SlotDescriptor> Slots { get; } = slots;

    /// <summary>Whether every row starts with one label: the prediction id (null when the input has none).</summary>
    public bool HasId { get; } = hasId;

    /// <summary>
    /// Finds the declared spec of a model input or output by name, once the model is loaded (set by the registry; null
    /// for pipelines and tests): the monitor profiles a <c>[batch, F]</c> input feature by feature and summarizes images.
    /// </summary>
    public Func<string, FeatureRole, TensorSpec?>? FindSpec { get; set; }
}

/// <summary>A feature the monitor has seen: name, role and kind. Ids are indexes into <see cref="FeatureCatalog"/>.</summary>
internal sealed record FeatureInfo(int Id, string Name, FeatureRole Role, FeatureKind Kind);

/// <summary>
/// Every feature name of one monitor, with a stable id (the index of its profile in each interval). Grows as new
/// vector lengths or dictionary keys appear; never shrinks. Not thread-safe: used under the monitor's state lock.
/// </summary>
internal sealed class FeatureCatalog
{
    /// <summary>Features by id.</summary>
    private readonly List<FeatureInfo> _features = [];

    /// <summary>Ids by name.</summary>
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);

    public int Count => _features.Count;

    public FeatureInfo this[int id] => _features[id];

    public IReadOnlyList<FeatureInfo> All => _features;

    public int GetOrAdd(string name, FeatureRole role, FeatureKind kind)
    {
        if (_byName.TryGetValue(name, out var id))
        {
            return id;
        }

        id = _features.Count;
        _features.Add(new FeatureInfo(id, name, role, kind));
        _byName.Add(name, id);
        return id;
    }

    public bool TryGet(string name, out int id) => _byName.TryGetValue(name, out id);
}
