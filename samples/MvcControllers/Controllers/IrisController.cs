using Microsoft.AspNetCore.Mvc;
using ModelInService;

namespace MvcControllers.Controllers;

/// <summary>Predicts iris species. Model errors become ProblemDetails through the global ModelProblemDetails filter.</summary>
[ApiController]
[Route("iris")]
public sealed class IrisController([FromKeyedServices("iris")] IPredictor<IrisFlower, IrisPrediction> predictor) : ControllerBase
{
    /// <summary>Predicts one flower.</summary>
    [HttpPost("predict")]
    [ProducesResponseType<IrisPrediction>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(StatusCodes.Status400BadRequest)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status503ServiceUnavailable)]
    public async Task<IrisPrediction> Predict(IrisFlower flower, CancellationToken cancellationToken) =>
        await predictor.PredictAsync(flower, cancellationToken);

    /// <summary>The most flowers one batch request may hold (MapPredictBatch's default; one run holds them all).</summary>
    public const int MaxBatchRows = 1024;

    /// <summary>Predicts several flowers in one run, at most <see cref="MaxBatchRows"/>.</summary>
    [HttpPost("predict/batch")]
    [ProducesResponseType<IReadOnlyList<IrisPrediction>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status413PayloadTooLarge)]
    public async Task<ActionResult<IReadOnlyList<IrisPrediction>>> PredictBatch(IrisFlower[] flowers, CancellationToken cancellationToken)
    {
        // MVC binds the whole array before the action runs (the body is bounded by the server's MaxRequestBodySize);
        // the row bound keeps one request from holding a model run for seconds.
        if (flowers.Length > MaxBatchRows)
        {
            var problem = new ProblemDetails
            {
                Status = StatusCodes.Status413PayloadTooLarge,
                Title = "Too many rows",
                Detail = $"A batch holds at most {MaxBatchRows} rows; send the rows in several requests.",
            };
            problem.Extensions["maxRows"] = MaxBatchRows;
            return new ObjectResult(problem) { StatusCode = StatusCodes.Status413PayloadTooLarge, ContentTypes = { "application/problem+json" } };
        }

        return Ok(await predictor.PredictBatchAsync(flowers, cancellationToken));
    }
}
