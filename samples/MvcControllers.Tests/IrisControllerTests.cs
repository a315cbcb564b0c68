using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using ModelInService;
using ModelInService.Testing;
using MvcControllers.Controllers;

namespace MvcControllers.Tests;

/// <summary>The controller, tested alone: the model is a FakePredictor, so the tests say what the model answers.</summary>
public sealed class IrisControllerTests
{
    private static readonly IrisFlower Setosa = new() { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f };
    private static readonly IrisFlower Virginica = new() { SepalLength = 6.3f, SepalWidth = 3.3f, PetalLength = 6.0f, PetalWidth = 2.5f };

    /// <summary>A stand-in for the model: small petals are setosa, the rest virginica.</summary>
    private static FakePredictor<IrisFlower, IrisPrediction> FakeIris() =>
        new("iris", flower => flower.PetalLength < 2.5f
            ? new IrisPrediction { Label = 0, Probabilities = [0.98f, 0.01f, 0.01f] }
            : new IrisPrediction { Label = 2, Probabilities = [0.01f, 0.04f, 0.95f] });

    [Fact]
    public async Task PredictReturnsTheModelsAnswerWithTheSpeciesName()
    {
        var predictor = FakeIris();
        var controller = new IrisController(predictor);

        var prediction = await controller.Predict(Setosa, CancellationToken.None);

        Assert.Equal(0, prediction.Label);
        Assert.Equal("setosa", prediction.Species);
        Assert.Same(Setosa, predictor.LastCall.Input);
        Assert.False(predictor.LastCall.IsBatch);
    }

    [Fact]
    public async Task PredictBatchSendsAllFlowersInOneCallAndKeepsTheirOrder()
    {
        var predictor = FakeIris();
        var controller = new IrisController(predictor);

        var result = await controller.PredictBatch([Virginica, Setosa], CancellationToken.None);

        var predictions = Assert.IsAssignableFrom<IReadOnlyList<IrisPrediction>>(Assert.IsType<OkObjectResult>(result.Result).Value);
        Assert.Equal(["virginica", "setosa"], predictions.Select(p => p.Species));
        var call = Assert.Single(predictor.Calls);
        Assert.True(call.IsBatch);
        Assert.Equal([Virginica, Setosa], call.Inputs);
    }

    [Fact]
    public async Task PredictBatchOverTheRowLimitIs413WithoutCallingTheModel()
    {
        var predictor = FakeIris();
        var controller = new IrisController(predictor);
        var flowers = Enumerable.Repeat(Setosa, IrisController.MaxBatchRows + 1).ToArray();

        var result = await controller.PredictBatch(flowers, CancellationToken.None);

        var problem = Assert.IsType<ObjectResult>(result.Result);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, problem.StatusCode);
        Assert.Equal("Too many rows", Assert.IsType<ProblemDetails>(problem.Value).Title);
        Assert.Empty(predictor.Calls);
        var full = await controller.PredictBatch(flowers[..IrisController.MaxBatchRows], CancellationToken.None);
        Assert.IsType<OkObjectResult>(full.Result);
    }

    [Fact]
    public async Task ModelErrorsReachTheProblemDetailsFilterUnchanged()
    {
        // The global ModelProblemDetails filter turns these into 400/429/503; the controller must not swallow them.
        var predictor = new FakePredictor<IrisFlower, IrisPrediction>("iris")
            .EnqueueException(new ModelInputException("iris", "IrisFlower.PetalLength", "is NaN"))
            .EnqueueException(new ModelOverloadedException("iris", "queue full", TimeSpan.FromSeconds(1)))
            .EnqueueException(new ModelNotReadyException("iris", "loading"));
        var controller = new IrisController(predictor);

        var invalid = await Assert.ThrowsAsync<ModelInputException>(() => controller.Predict(Setosa, CancellationToken.None));
        Assert.Equal("IrisFlower.PetalLength", invalid.MemberName);
        await Assert.ThrowsAsync<ModelOverloadedException>(() => controller.Predict(Setosa, CancellationToken.None));
        await Assert.ThrowsAsync<ModelNotReadyException>(() => controller.Predict(Setosa, CancellationToken.None));
    }

    [Fact]
    public async Task ABatchErrorNamesTheFlower()
    {
        var predictor = new FakePredictor<IrisFlower, IrisPrediction>("iris", flower => flower.PetalLength > 0
            ? new IrisPrediction()
            : throw new ModelInputException("iris", "IrisFlower.PetalLength", "must be positive"));
        var controller = new IrisController(predictor);

        var ex = await Assert.ThrowsAsync<ModelInputException>(() => controller.PredictBatch([Setosa, new IrisFlower()], CancellationToken.None));

        Assert.Equal(1, ex.Index);
    }

    [Fact]
    public async Task TheRequestsCancellationReachesTheModel()
    {
        var predictor = new FakePredictor<IrisFlower, IrisPrediction>("iris").AnswerWith(async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new IrisPrediction();
        });
        var controller = new IrisController(predictor);
        using var aborted = new CancellationTokenSource();

        var pending = controller.Predict(Setosa, aborted.Token);
        await aborted.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }
}
