using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace ModelInService.AspNetCore;

/// <summary>
/// An MVC exception filter that answers model exceptions thrown by an action as ProblemDetails, with the same
/// statuses as the predict endpoints: 400 invalid input (naming the member), 429 queue full (with Retry-After),
/// 500 inference failed, 503 model not ready or not loaded, 504 deadline exceeded. A request the client aborted ends
/// with 499. Other exceptions are left to the rest of the pipeline.
/// </summary>
/// <remarks>
/// Put it on a controller or action (<c>[ModelProblemDetails]</c>), or add it for every controller:
/// <c>services.AddControllers(o =&gt; o.Filters.Add&lt;ModelProblemDetailsAttribute&gt;())</c>. Stateless and thread-safe.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class ModelProblemDetailsAttribute : ExceptionFilterAttribute
{
    /// <inheritdoc />
    public override void OnException(ExceptionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ExceptionHandled)
        {
            return;
        }

        var http = context.HttpContext;
        if (context.Exception is OperationCanceledException && http.RequestAborted.IsCancellationRequested)
        {
            context.Result = new StatusCodeResult(ModelProblems.ClientClosedRequest);
            context.ExceptionHandled = true;
            return;
        }

        if (ModelProblems.TryCreate(context.Exception, http) is { } problem)
        {
            context.Result = new ObjectResult(problem)
            {
                StatusCode = problem.Status,
                ContentTypes = { "application/problem+json" },
            };
            context.ExceptionHandled = true;
        }
    }
}
