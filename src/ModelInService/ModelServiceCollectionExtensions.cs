using System.Diagnostics.CodeAnalysis;
using ModelInService.Monitoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Schema;
using ModelInService.Hosting;

namespace ModelInService;

/// <summary>Registers models in an <see cref="IServiceCollection"/>.</summary>
public static class ModelServiceCollectionExtensions
{
    /// <summary>
    /// Registers the ONNX model at <paramref name="path"/> under the name of the file without its extension
    /// (<c>models/iris.onnx</c> is <c>iris</c>), served as <see cref="IPredictor{TInput, TOutput}"/>.
    /// </summary>
    /// <typeparam name="TInput">The input type; its members map to the model's inputs.</typeparam>
    /// <typeparam name="TOutput">The output type; its members map to the model's outputs.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="path">The model file; a relative path is resolved against the content root, then the app's base directory.</param>
    /// <returns>A builder for adding features to the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    public static ModelBuilder AddModel<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TInput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TOutput>(this IServiceCollection services, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return services.AddModel<TInput, TOutput>(Path.GetFileNameWithoutExtension(path), options => options.Source = ModelSource.FromFile(path));
    }

    /// <summary>Registers a model under <paramref name="name"/>, served as <see cref="IPredictor{TInput, TOutput}"/> and <see cref="IModelRunner"/>.</summary>
    /// <typeparam name="TInput">The input type; its members map to the model's inputs.</typeparam>
    /// <typeparam name="TOutput">The output type; its members map to the model's outputs.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The model name: the DI key (<c>[FromKeyedServices("name")]</c>) and the name in logs and errors.</param>
    /// <param name="configure">Sets the options; at least <see cref="ModelOptions.Source"/>.</param>
    /// <returns>A builder for adding features to the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    public static ModelBuilder AddModel<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TInput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TOutput>(this IServiceCollection services, string name, Action<ModelOptions> configure)
    {
        var builder = Register(services, name, configure, typeof(TInput), typeof(TOutput),
            static (modelName, signature, options) => SchemaMatcher<TInput, TOutput>.Bind(modelName, signature, options),
            sp => sp.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(name));
        builder.Registration.CreateRecorder = MonitorRegistry.RecorderFactory<TInput, TOutput>(name, noPredictorReason: null);

        // The chain of stages is composed once, here (see PredictionChain for the order).
        services.AddKeyedSingleton<IPredictor<TInput, TOutput>>(name, static (sp, key) => PredictionChain.Build<TInput, TOutput>(sp, (string)key!));
        services.TryAddSingleton<IPredictor<TInput, TOutput>>(sp => sp.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(name));
        return builder;
    }

    /// <summary>Registers a model under <paramref name="name"/> without C# types, served as <see cref="IModelRunner"/> (named tensors).</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The model name: the DI key and the name in logs and errors.</param>
    /// <param name="configure">Sets the options; at least <see cref="ModelOptions.Source"/>.</param>
    /// <returns>A builder for adding features to the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    public static ModelBuilder AddModel(this IServiceCollection services, string name, Action<ModelOptions> configure) =>
        Register(services, name, configure, null, null, null, null);

    /// <summary>
    /// Refuses a model name that cannot travel where names go: a URL path segment (the monitor's and the admin's
    /// <c>/models/{model}</c>, the dashboard), a file name (monitor snapshots <c>{model}.monitor</c>), log lines and
    /// metric tags. An outside probe registered <c>a/b</c> (every monitor and admin route answered 404: the routing
    /// keeps <c>%2F</c> encoded) and <c>..</c> (the browser folds the path): either blanked the whole dashboard.
    /// </summary>
    internal static void CheckName(string name)
    {
        string? why = name is "." or ".." ? "is a relative path segment"
            : name.AsSpan().IndexOfAny('/', '\\') >= 0 ? "contains a path separator"
            : name.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || name.Contains('\u007f', StringComparison.Ordinal) ? "contains a control character"
            : null;
        if (why is not null)
        {
            throw new ArgumentException(
                $"The model name \"{name.ReplaceLineEndings("\\n")}\" {why}: names appear in URL paths (/models/{{model}}), snapshot file names and logs. Use letters, digits, '-', '_' and '.' (e.g. \"fraud-v2\").",
                nameof(name));
        }
    }

    /// <summary>Records the registration, its options, runner, manager and the loader; AddStreamingModel registers through here too.</summary>
    internal static ModelBuilder Register(
        IServiceCollection services,
        string name,
        Action<ModelOptions> configure,
        Type? input,
        Type? output,
        Func<string, ModelSignature, ModelOptions, IModelBinder>? bind,
        Func<IServiceProvider, object>? buildPredictor)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        CheckName(name);
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(ModelRegistration) && descriptor.ImplementationInstance is ModelRegistration existing)
            {
                if (existing.Name == name)
                {
                    throw new InvalidOperationException($"A model named '{name}' is already registered. Give each model a distinct name: AddModel<TIn, TOut>(\"other-name\", o => o.Source = ...).");
                }

                // Configuration keys ("Models:iris" is "Models:Iris") and URL paths are matched without case: the two
                // would read each other's settings.
                if (string.Equals(existing.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"Cannot register model '{name}': model '{existing.Name}' is already registered, and names that differ only by case collide in configuration (keys are case-insensitive) and URLs. Give the models names that differ by more than case.");
                }
            }
        }

        var registration = new ModelRegistration(name, input, output, bind, buildPredictor);
        services.AddSingleton(registration);
        services.AddOptions<ModelOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>());
        services.TryAddSingleton<ModelRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ModelLoaderHostedService>());

        // Behind the closed registrations: resolving IPredictor<TIn, TOut> for types no model serves lists the models.
        services.TryAdd(ServiceDescriptor.Singleton(typeof(IPredictor<,>), typeof(UnregisteredPredictor<,>)));
        services.AddKeyedSingleton<IModelRunner>(name, static (sp, key) => RunnerFor(sp.GetRequiredService<ModelRegistry>().Get((string)key!)));
        services.TryAddSingleton<IModelRunner>(sp => sp.GetRequiredKeyedService<IModelRunner>(name));
        services.AddKeyedSingleton<IModelManager>(name, static (sp, key) => new ModelManager(sp.GetRequiredService<ModelRegistry>().Get((string)key!)));
        services.TryAddSingleton<IModelManager>(sp => sp.GetRequiredKeyedService<IModelManager>(name));
        return new ModelBuilder(services, name, registration);
    }

    private static ModelRunner RunnerFor(ModelHost host) => new(host, host.Options);
}

/// <summary>Starts models without a generic host (console tools, tests).</summary>
public static class ModelServiceProviderExtensions
{
    /// <summary>
    /// Loads, validates and warms up every registered model that is not loaded yet. A generic host does this by itself
    /// when it starts; call this only when no host runs.
    /// </summary>
    /// <param name="services">The service provider built from the collection the models were added to.</param>
    /// <param name="cancellationToken">Cancels loading.</param>
    /// <returns>A task that completes when every model is loaded.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ModelLoadException">A model failed to load.</exception>
    /// <exception cref="OptionsValidationException">A model's options are invalid.</exception>
    public static Task StartModelsAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetRequiredService<ModelRegistry>().StartAsync(cancellationToken);
    }
}
