using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
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
// The "iris" endpoint below binds its body with a plain MapPost: make every input member required there too, or a
// body without one would predict from 0 (MapPredict checks this itself).
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
    o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;
    o.SerializerOptions.TypeInfoResolver = (o.SerializerOptions.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver())
        .WithAddedModifier(ModelInputJson.RequireInputMembers);
});

// The admin endpoints require the "model-admins" policy. Add your authentication scheme (JWT, certificates, ...)
// here, e.g. builder.Services.AddAuthentication().AddJwtBearer(); without one, MapModelAdmin stops the app at
// start-up outside Development with a message saying so. docs/security.md.
builder.Services.AddAuthorization(o => o.AddPolicy("model-admins", p => p.RequireRole("model-admin")));

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

// Operations: GET /models/{name} (which version serves: numbers, names, hashes; never file paths) and a canary of a
// new version (POST/GET/DELETE /models/{name}/canary, POST /models/{name}/canary/promote). They replace the model that
// answers production traffic, so they require an authenticated caller (here the "model-admins" policy), except in
// Development. The candidate comes from configuration, never from a path in a request.
app.MapModelAdmin("/models", o =>
{
    o.AuthorizationPolicy = "model-admins";
    o.AllowAnonymous = app.Environment.IsDevelopment();
    o.Candidates["iris"] = ModelSource.FromFile(app.Configuration["Models:iris:Candidate"] ?? "models/iris_mlp_fixed.onnx");
});

app.MapModelHealthChecks();   // GET /health/ready, GET /health/live

app.Run();
