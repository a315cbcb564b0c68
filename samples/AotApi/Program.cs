using AotApi;
using ModelInService;
using ModelInService.AspNetCore;

// The slim builder: what Native AOT apps start from (no IIS, no EventLog, fewer defaults to trim away).
var builder = WebApplication.CreateSlimBuilder(args);

builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJsonContext.Default));

// The same registration as the JIT samples: loaded, checked and warmed up at start-up, batched, monitored.
// Monitoring's intervals come from configuration ("Monitoring" section), so a test can shorten them.
var monitoring = builder.Configuration.GetSection("Monitoring");
builder.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile("models/iris_mlp.onnx"))
    .UseBatching()
    .UseMonitoring(o =>
    {
        o.IntervalLength = monitoring.GetValue("IntervalLength", o.IntervalLength);
        o.EvaluationInterval = monitoring.GetValue("EvaluationInterval", o.EvaluationInterval);
        if (monitoring.GetValue<TimeSpan?>("Window") is { } window)
        {
            o.Windows.Clear();
            o.Windows.Add(window);
        }
    });

builder.Services.AddHealthChecks().AddModelChecks();
builder.Services.AddAuthorization();
builder.Services.AddPredictEndpoints(o => o.MaxBatchRows = 1024);

var app = builder.Build();

app.MapPredict<IrisFlower, IrisPrediction>("/predict");
app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch");
app.MapModelHealthChecks();   // GET /health/ready, GET /health/live

// The monitor's dashboard and JSON API (GET /monitor/api/models/iris/report?window=...); open only in Development.
app.MapModelMonitor("/monitor", o => o.AllowAnonymous = app.Environment.IsDevelopment());

// Freezes the last `seconds` of traffic as the monitor's reference: what a team does once the service has seen
// known-good traffic. Development only, like the open monitor.
if (app.Environment.IsDevelopment())
{
    app.MapPost("/reference/freeze", ([FromKeyedServices("iris")] IModelMonitor monitor, double seconds) =>
    {
        var reference = monitor.FreezeReference(TimeSpan.FromSeconds(seconds));
        monitor.SetReference(reference);
        return TypedResults.Ok(new ReferenceFrozen(monitor.ModelName, reference.Rows, reference.FeatureNames.Count));
    });
}

app.MapGet("/", () => "POST a flower to /predict, e.g. {\"sepalLength\":5.1,\"sepalWidth\":3.5,\"petalLength\":1.4,\"petalWidth\":0.2}");

app.Run();
