using Microsoft.Extensions.DependencyInjection;
using ModelInService.Hosting;

namespace ModelInService;

/// <summary>
/// Returned by <c>AddModel</c>: the place where features are added to a registered model. Each feature's <c>UseX</c>
/// extension lives with the feature (<c>UseBatching</c>, <c>UseCaching</c>, <c>UseMonitoring</c>, <c>UseFallback</c>,
/// <c>WithPipeline</c>); the request path composes the features that were added, in a fixed order (docs/architecture.md).
/// </summary>
/// <remarks>Use it while configuring services; it is not thread-safe.</remarks>
public sealed class ModelBuilder
{
    internal ModelBuilder(IServiceCollection services, string name, ModelRegistration registration)
    {
        Services = services;
        Name = name;
        Registration = registration;
    }

    internal ModelRegistration Registration { get; }

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
