namespace ModelInService;

/// <summary>
/// Maps a property or field of an input type to a named model input. Without the attribute a public property maps
/// to the input of the same name (case-insensitive). Several scalar members mapped to one input are packed into its
/// row (<c>[N, F]</c>) in declaration order, or in <see cref="Order"/> when given.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter, AllowMultiple = false)]
public sealed class ModelInputAttribute : Attribute
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="name">The model input's name.</param>
    public ModelInputAttribute(string name) => Name = name;

    /// <summary>Gets the model input's name.</summary>
    public string Name { get; }

    /// <summary>Gets or sets the column of a scalar member within the input's row; -1 (default) means declaration order.</summary>
    public int Order { get; set; } = -1;

    /// <summary>
    /// Gets or sets whether a request may leave the member out. Input members are required by default: a JSON
    /// predict endpoint answers 400 naming every member missing from the body, instead of predicting with the
    /// member's default value (a misspelled or snake_case key would otherwise become 0 silently). Set it for a
    /// member whose default value is a meaningful input.
    /// </summary>
    /// <value>Default false.</value>
    public bool Optional { get; set; }
}

/// <summary>
/// Maps a property or field of an output type to a named model output. Without the attribute a public writable
/// property maps to the output of the same name (case-insensitive).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter, AllowMultiple = false)]
public sealed class ModelOutputAttribute : Attribute
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="name">The model output's name.</param>
    public ModelOutputAttribute(string name) => Name = name;

    /// <summary>Gets the model output's name.</summary>
    public string Name { get; }

    /// <summary>Gets or sets the column of a scalar member within the output's row; -1 (default) means declaration order.</summary>
    public int Order { get; set; } = -1;
}

/// <summary>
/// Accepts NaN and infinities in a <see cref="float"/>, <see cref="double"/> or <see cref="Half"/> member, both of
/// which are rejected by default: on an input member the request is accepted instead of failing validation; on an
/// output member the model's value is returned instead of a <see cref="ModelNonFiniteOutputException"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter, AllowMultiple = false)]
public sealed class AllowNonFiniteAttribute : Attribute
{
}

/// <summary>Excludes a public property or field from schema mapping.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false)]
public sealed class ModelIgnoreAttribute : Attribute
{
}
