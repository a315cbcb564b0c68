using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;

namespace ModelInService;

/// <summary>Adds the in-process monitor to a registered model.</summary>
public static class MonitoringBuilderExtensions
{
    /// <summary>
    /// Records every successful prediction's input features and outputs into per-interval profiles (off the request
    /// path, through a bounded queue that drops rather than blocks), evaluates them against a reference on a timer,
    /// and raises drift and data-quality events to every registered <see cref="IModelMonitorHandler"/>. Resolve the
    /// monitor as <c>[FromKeyedServices(name)] IModelMonitor</c>. See docs/monitoring.md.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="configure">Adjusts the monitoring options.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The model was registered without C# types (monitoring needs <c>AddModel&lt;TIn, TOut&gt;</c>).</exception>
    public static ModelBuilder UseMonitoring(this ModelBuilder builder, Action<MonitoringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registration = builder.Registration;
        if (registration.InputType is null || registration.OutputType is null)
        {
            throw new InvalidOperationException($"Model '{builder.Name}' was registered without input and output types; monitoring needs AddModel<TInput, TOutput>(...) so that it knows the features.");
        }

        var services = builder.Services;
        var name = builder.Name;
        var options = services.AddOptions<MonitoringOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(MonitoredModel) && d.ImplementationInstance is MonitoredModel m && m.Name == name))
        {
            // Called twice: the second call only adds its configuration.
            return builder;
        }

        options.ValidateOnStart();
        services.AddSingleton(new MonitoredModel(name));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>());
        services.TryAddSingleton<MonitorRegistry>();
        services.AddKeyedSingleton<IModelMonitor>(name, static (sp, key) => sp.GetRequiredService<MonitorRegistry>().Get((string)key!));
        services.TryAddSingleton<IModelMonitor>(sp => sp.GetRequiredKeyedService<IModelMonitor>(name));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MonitorHostedService>());
        AddPipelineMonitor(services, name);
        return builder;
    }

    /// <summary>
    /// Records every answered chunk of the streaming model (the <c>TChunk</c> members the model reads and the
    /// <c>TResult</c> members it writes; the state tensors and the context are not recorded) like
    /// <see cref="UseMonitoring(ModelBuilder, Action{MonitoringOptions}?)"/> records predictions: drift and
    /// data-quality events, the report and the dashboard work the same way. A chunk that failed, was canceled or timed
    /// out is not recorded; an invalid chunk counts as a schema violation. A streaming model's answers depend on each
    /// stream's state, so its reference comes from a reference file or <see cref="IModelMonitor.FreezeReference"/>,
    /// not from <see cref="IModelMonitor.BuildReferenceAsync{TInput}"/>. See docs/streaming.md.
    /// </summary>
    /// <param name="builder">The streaming model's builder.</param>
    /// <param name="configure">Adjusts the monitoring options.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static StreamingModelBuilder UseMonitoring(this StreamingModelBuilder builder, Action<MonitoringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Model.UseMonitoring(configure);
        return builder;
    }

    /// <summary>Registers the pipeline's monitor (<c>"{name}:pipeline"</c>) once both the pipeline and monitoring are on, in either order.</summary>
    internal static void AddPipelineMonitor(IServiceCollection services, string name)
    {
        var monitorName = PipelineRegistration.MonitorName(name);
        var monitored = services.Any(d => d.ServiceType == typeof(MonitoredModel) && d.ImplementationInstance is MonitoredModel m && m.Name == name);
        var piped = services.Any(d => d.ServiceType == typeof(PipelineRegistration) && d.ImplementationInstance is PipelineRegistration p && p.Name == name);
        var done = services.Any(d => d.ServiceType == typeof(IModelMonitor) && d.IsKeyedService && Equals(d.ServiceKey, monitorName));
        if (monitored && piped && !done)
        {
            services.AddKeyedSingleton<IModelMonitor>(monitorName, static (sp, key) => sp.GetRequiredService<MonitorRegistry>().Get((string)key!));
        }
    }
}
