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

    /// <summary>Predicts several flowers in one run.</summary>
    [HttpPost("predict/batch")]
    public async Task<IReadOnlyList<IrisPrediction>> PredictBatch(IrisFlower[] flowers, CancellationToken cancellationToken) =>
        await predictor.PredictBatchAsync(flowers, cancellationToken);
}
