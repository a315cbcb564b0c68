using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ModelInService.AspNetCore;

/// <summary>The pipeline-wide mapping: an <see cref="IExceptionHandler"/> that answers model exceptions as ProblemDetails.</summary>
internal sealed class ModelExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            httpContext.Response.StatusCode = ModelProblems.ClientClosedRequest;
            return true;
        }

        if (ModelProblems.TryCreate(exception, httpContext) is not { } problem)
        {
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        }).ConfigureAwait(false);
    }
}

/// <summary>Registers the app-wide mapping of model exceptions to ProblemDetails.</summary>
public static class ModelExceptionHandlerServiceCollectionExtensions
{
    /// <summary>
    /// Adds an <see cref="IExceptionHandler"/> (and <c>AddProblemDetails()</c>) that answers model exceptions escaping
    /// any endpoint or middleware with the same ProblemDetails as the predict endpoints (400, 429 + Retry-After, 500,
    /// 503, 504). It takes effect with <c>app.UseExceptionHandler()</c>. Controllers can use
    /// <see cref="ModelProblemDetailsAttribute"/> instead; <c>MapPredict</c> needs neither.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddModelExceptionHandler(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddProblemDetails();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IExceptionHandler, ModelExceptionHandler>());
        return services;
    }
}
