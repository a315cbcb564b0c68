using Microsoft.Extensions.DependencyInjection;

namespace ModelInService;

/// <summary>
/// Returned by <c>AddModel</c>: the place where features are added to a registered model (batching, caching,
/// monitoring in later releases).
/// </summary>
/// <remarks>Use it while configuring services; it is not thread-safe.</remarks>
public sealed class ModelBuilder
{
    internal ModelBuilder(IServiceCollection services, string name)
    {
        Services = services;
        Name = name;
    }

    /// <summary>Gets the service collection the model is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the model name (the DI key).</summary>
    public string Name { get; }

    /// <summary>Configures the model's options further.</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is null.</exception>
    public ModelBuilder Configure(Action<ModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(Name, configure);
        return this;
    }
}
