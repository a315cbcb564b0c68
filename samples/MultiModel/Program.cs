using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using ModelInService;
using ModelInService.AspNetCore;
using MultiModel;

var builder = WebApplication.CreateBuilder(args);

// Two models, each registered under a name: the name is the DI key of its IPredictor, IModelRunner and IModelManager.
builder.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile("models/iris_mlp.onnx"))
    .UseBatching();
builder.Services.AddModel<ZipMapFlower, ZipMapPrediction>("iris-zipmap", o => o.Source = ModelSource.FromFile("models/iris_mlp_zipmap.onnx"));

// Model exceptions thrown by any endpoint become ProblemDetails (400 naming the member, 429, 503, 504).
builder.Services.AddModelExceptionHandler();

// Readiness = every model loaded and warm; liveness = the process answers.
builder.Services.AddHealthChecks().AddModelChecks();

// Enums as names; a canary report's agreement rate is NaN until there is something to compare: let JSON carry it.
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
    o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;
});

var app = builder.Build();
app.UseExceptionHandler();

// Predictions, one endpoint per model. "iris" takes the caller's id so that a canary is sticky: the same user always
// gets the same version. "iris-zipmap" is the one-line form.
app.MapPost("/models/iris/predict", (
        IrisFlower flower,
        [FromKeyedServices("iris")] IPredictor<IrisFlower, IrisPrediction> predictor,
        [FromHeader(Name = "X-User-Id")] string? userId,
        CancellationToken cancellationToken) =>
    predictor.PredictAsync(flower, new PredictionOptions { RoutingKey = userId }, cancellationToken));
app.MapPredict<ZipMapFlower, ZipMapPrediction>("/models/iris-zipmap/predict", "iris-zipmap");

// Operations: which version serves, and a canary of a new version. Put these behind authorization in a real app.
app.MapGet("/models/{name}", (string name, IServiceProvider services) =>
    services.GetKeyedService<IModelManager>(name) is { } manager
        ? Results.Ok(new { manager.ModelName, manager.Current, manager.Previous, manager.Candidate })
        : Results.NotFound());

// The candidate comes from configuration, never from a path in a request.
var candidatePath = app.Configuration["Models:iris:Candidate"] ?? "models/iris_mlp_fixed.onnx";
var canary = app.MapGroup("/models/iris/canary");
canary.MapPost("/", async (CanaryRequest request, [FromKeyedServices("iris")] IModelManager manager, CancellationToken ct) =>
    request.Share is >= 0 and <= 1
        ? Results.Ok(await manager.StartCanaryAsync(ModelSource.FromFile(candidatePath), request.Share, ct))
        : Results.Problem(title: "Invalid share", detail: "Share must be between 0 and 1.", statusCode: StatusCodes.Status400BadRequest));
canary.MapGet("/", ([FromKeyedServices("iris")] IModelManager manager) =>
    manager.Candidate is { } report ? Results.Ok(report) : Results.NotFound());
canary.MapPost("/promote", async ([FromKeyedServices("iris")] IModelManager manager, CancellationToken ct) =>
    manager.Candidate is null ? Results.NotFound() : Results.Ok(await manager.PromoteCandidateAsync(ct)));
canary.MapDelete("/", async ([FromKeyedServices("iris")] IModelManager manager, CancellationToken ct) =>
{
    await manager.StopCandidateAsync(ct);
    return Results.NoContent();
});

app.MapModelHealthChecks();   // GET /health/ready, GET /health/live

app.Run();
