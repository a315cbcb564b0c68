using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using ModelInService;
using ModelInService.AspNetCore;
using MvcControllers;

var builder = WebApplication.CreateBuilder(args);

// The model, keyed by its name: controllers take [FromKeyedServices("iris")] IPredictor<IrisFlower, IrisPrediction>.
builder.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile("models/iris_mlp.onnx"));

// Every controller answers model errors as ProblemDetails: 400 naming the member, 429 + Retry-After, 503, 504.
builder.Services.AddControllers(o => o.Filters.Add<ModelProblemDetailsAttribute>())
    .AddJsonOptions(o =>
    {
        // "NaN" and "Infinity" reach the model's validation, which answers them with a 400 naming the field.
        o.JsonSerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;

        // Input members are required: {} or snake_case keys are a 400 naming the missing members, not a prediction from zeros.
        o.JsonSerializerOptions.TypeInfoResolver = (o.JsonSerializerOptions.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver())
            .WithAddedModifier(ModelInputJson.RequireInputMembers);
    });

// Readiness per model (tagged "ready"); liveness checks nothing but the process.
builder.Services.AddHealthChecks().AddModelChecks();

var app = builder.Build();

app.MapControllers();
app.MapModelHealthChecks();   // GET /health/ready, GET /health/live

app.Run();

/// <summary>The entry point (public for WebApplicationFactory in the tests).</summary>
public partial class Program;
