using System.Text.Json.Serialization.Metadata;

namespace ModelInService.AspNetCore;

/// <summary>
/// Makes input members required in JSON bound by something other than the predict endpoints (MVC controllers, a
/// plain <c>MapPost</c>): a body that lacks a member is then rejected by the serializer instead of becoming the
/// member's default value. <c>MapPredict</c> and <c>MapPredictBatch</c> need none of this; they check it themselves
/// and name every missing member.
/// </summary>
public static class ModelInputJson
{
    /// <summary>
    /// A <see cref="JsonTypeInfo"/> modifier: in a type with at least one <see cref="ModelInputAttribute"/>, marks
    /// every input member (public, not <see cref="ModelIgnoreAttribute"/>, settable from JSON) required unless it is
    /// <see cref="ModelInputAttribute.Optional"/>. Other types are left alone.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddControllers().AddJsonOptions(o =&gt; o.JsonSerializerOptions.TypeInfoResolver =
    ///     (o.JsonSerializerOptions.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(ModelInputJson.RequireInputMembers));
    /// </code>
    /// </example>
    /// <param name="typeInfo">The contract being built.</param>
    /// <exception cref="ArgumentNullException"><paramref name="typeInfo"/> is null.</exception>
    public static void RequireInputMembers(JsonTypeInfo typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        foreach (var property in JsonInputReader<object>.RequiredProperties(typeInfo, onlyAnnotatedTypes: true))
        {
            property.IsRequired = true;
        }
    }
}
