using System.Text.Json.Serialization;
using MinimalApi;
using ModelInService;
using ModelInService.AspNetCore;
using ModelInService.Redis;
using OpenTelemetry.Metrics;

var builder = WebApplication.CreateBuilder(args);

// One line registers the model: loaded, checked against IrisFlower/IrisPrediction and warmed up at start-up.
// UseBatching groups concurrent requests into one run (bounded queue: 429 + Retry-After when full; docs/batching.md).
// UseMonitoring profiles every prediction off the request path (drift against a reference: docs/monitoring.md).
var model = builder.Services.AddModel<IrisFlower, IrisPrediction>("models/iris_mlp.onnx")
    .UseBatching()
    .UseMonitoring();

// Several replicas (samples/deploy/compose.yaml, the Kubernetes manifests): given a Redis ("Redis" setting, e.g. the
// environment variable Redis=redis:6379), they share one drift view that alerts once for the cluster, and a reload,
// rollback or canary issued on one replica reaches all (docs/deployment.md). Without it, each replica is on its own.
if (builder.Configuration["Redis"] is { Length: > 0 } redis)
{
    model.UseRedisMonitoring(o => o.Configuration = redis);
    builder.Services.AddModelClusterOperations(o => o.Configuration = redis);
}

// Accept "NaN"/"Infinity" in JSON so the model's own validation can answer them with a clear 400.
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals);

// Readiness per model (tagged "ready"); liveness checks nothing but the process.
builder.Services.AddHealthChecks().AddModelChecks();

// The library's metrics (one meter, "ModelInService": requests, latency, queue, batch sizes, cache, drift; see
// docs/metrics.md) exported through OpenTelemetry for Prometheus to scrape at /metrics.
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter("ModelInService")
    .AddPrometheusExporter());

// The monitor requires authorization by default; add your authentication scheme (JWT, cookies, ...) here, e.g.
// builder.Services.AddAuthentication().AddJwtBearer(). Without one, MapModelMonitor stops the app at start-up outside
// Development with a message saying so (instead of answering every monitor request with 500). docs/security.md.
builder.Services.AddAuthorization();

// At most 1,024 rows per batch request (413 beyond, counted while the body is read); validated at start-up.
builder.Services.AddPredictEndpoints(o => o.MaxBatchRows = 1024);

var app = builder.Build();

// POST /predict: JSON in and out; errors as ProblemDetails (400 naming the field, 429 + Retry-After, 503, 504).
app.MapPredict<IrisFlower, IrisPrediction>("/predict");
app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch");

app.MapModelHealthChecks();   // GET /health/ready, GET /health/live
app.MapPrometheusScrapingEndpoint(); // GET /metrics

// The dashboard and its API show statistics of production inputs: an authenticated user is required, except in
// Development, where it is opened for a look at http://localhost:5080/monitor.
app.MapModelMonitor("/monitor", o => o.AllowAnonymous = app.Environment.IsDevelopment());

app.MapGet("/", () => "POST a flower to /predict, e.g. {\"sepalLength\":5.1,\"sepalWidth\":3.5,\"petalLength\":1.4,\"petalWidth\":0.2}");

app.Run();
