namespace ModelInService;

/// <summary>The inputs, outputs and metadata a loaded model declares.</summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public sealed class ModelSignature
{
    internal ModelSignature(
        IReadOnlyList<TensorSpec> inputs,
        IReadOnlyList<TensorSpec> outputs,
        IReadOnlyDictionary<string, string> metadata,
        string producerName,
        long version)
    {
        Inputs = inputs;
        Outputs = outputs;
        Metadata = metadata;
        ProducerName = producerName;
        Version = version;
    }

    /// <summary>Gets the model's inputs in graph order.</summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }

    /// <summary>Gets the model's outputs in graph order.</summary>
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Gets the model's custom metadata properties (<c>metadata_props</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Gets the name of the tool that produced the model, when it says.</summary>
    public string ProducerName { get; }

    /// <summary>Gets the model version recorded in the file (0 when absent).</summary>
    public long Version { get; }

    /// <summary>
    /// Gets what the library decided about batching this model: batchable or not and why, the batch axis of every
    /// tensor and how rows are bucketed. For a typed model it covers the outputs its output type binds.
    /// </summary>
    public ModelBatchingInfo Batching { get; internal set; } = new(false, "not analysed", []);

    /// <summary>Finds an input by name.</summary>
    /// <param name="name">The input name (ordinal comparison).</param>
    /// <returns>The input, or <see langword="null"/> when the model has none with that name.</returns>
    public TensorSpec? FindInput(string name) => Find(Inputs, name);

    /// <summary>Finds an output by name.</summary>
    /// <param name="name">The output name (ordinal comparison).</param>
    /// <returns>The output, or <see langword="null"/> when the model has none with that name.</returns>
    public TensorSpec? FindOutput(string name) => Find(Outputs, name);

    private static TensorSpec? Find(IReadOnlyList<TensorSpec> specs, string name)
    {
        for (var i = 0; i < specs.Count; i++)
        {
            if (string.Equals(specs[i].Name, name, StringComparison.Ordinal))
            {
                return specs[i];
            }
        }

        return null;
    }
}
