using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelInService.AspNetCore;

/// <summary>Limits of the predict endpoints (<c>MapPredict</c>, <c>MapPredictBatch</c>).</summary>
/// <remarks>Read once, when an endpoint is mapped; validated at start-up.</remarks>
public sealed class PredictEndpointOptions
{
    /// <summary>The default of <see cref="MaxBatchRows"/>.</summary>
    public const int DefaultMaxBatchRows = 1024;

    /// <summary>The largest value <see cref="MaxBatchRows"/> accepts.</summary>
    public const int MaxBatchRowsLimit = 1 << 20;

    /// <summary>
    /// Gets or sets the most rows one <c>MapPredictBatch</c> request may hold. One more is answered 413 while the
    /// array is being read, before any row is deserialized or predicted, so that memory per request stays bounded
    /// (the request body's size limit alone allows millions of tiny rows such as <c>{}</c>).
    /// </summary>
    /// <value>Default 1,024; between 1 and 1,048,576.</value>
    public int MaxBatchRows { get; set; } = DefaultMaxBatchRows;
}

/// <summary>Validates <see cref="PredictEndpointOptions"/> with messages that say what to change.</summary>
internal sealed class PredictEndpointOptionsValidator : IValidateOptions<PredictEndpointOptions>
{
    public ValidateOptionsResult Validate(string? name, PredictEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MaxBatchRows is < 1 or > PredictEndpointOptions.MaxBatchRowsLimit
            ? ValidateOptionsResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"PredictEndpointOptions.MaxBatchRows is {options.MaxBatchRows}; set it between 1 and {PredictEndpointOptions.MaxBatchRowsLimit} (services.AddPredictEndpoints(o => o.MaxBatchRows = 1024)): it bounds the rows, and so the memory, of one batch request."))
            : ValidateOptionsResult.Success;
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> when <paramref name="options"/> are invalid (for options configured without <see cref="PredictEndpointServiceCollectionExtensions.AddPredictEndpoints"/>).</summary>
    public static void ThrowIfInvalid(PredictEndpointOptions options)
    {
        var result = new PredictEndpointOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PredictEndpointOptions), result.Failures);
        }
    }
}

/// <summary>Registers the options of the predict endpoints.</summary>
public static class PredictEndpointServiceCollectionExtensions
{
    /// <summary>
    /// Configures the limits of the predict endpoints (<see cref="PredictEndpointOptions"/>), validated when the host
    /// starts. Optional: without it the endpoints use the defaults.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the limits.</param>
    /// <returns>The services.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddPredictEndpoints(this IServiceCollection services, Action<PredictEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<PredictEndpointOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ValidateOnStart();
        services.TryAddEnumerableValidator();
        return services;
    }

    private static void TryAddEnumerableValidator(this IServiceCollection services) =>
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddEnumerable(
            services, ServiceDescriptor.Singleton<IValidateOptions<PredictEndpointOptions>, PredictEndpointOptionsValidator>());
}
