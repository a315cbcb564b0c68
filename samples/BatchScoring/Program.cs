using BatchScoringSample;
using ModelInService;
using ModelInService.BatchScoring;

var builder = Host.CreateApplicationBuilder(args);

// The model is loaded, checked against IrisFlower/IrisPrediction and warmed up before the worker starts.
builder.Services.AddModel<IrisFlower, IrisPrediction>("models/iris_mlp.onnx");
builder.Services.AddSingleton<BatchScorer>();

// --Scoring:Model=xgboost: the shared xgboost classifier too, without C# types (served as IModelRunner "xgboost").
if (string.Equals(builder.Configuration["Scoring:Model"], "xgboost", StringComparison.OrdinalIgnoreCase))
{
    var path = builder.Configuration["Scoring:XgboostPath"] ?? new ScoringOptions().XgboostPath;
    builder.Services.AddModel("xgboost", o => o.Source = ModelSource.FromFile(Path.GetFullPath(path)));
}

// What to score and where to write it: appsettings.json, or the command line (--Scoring:Rows=1000000).
builder.Services.AddOptions<ScoringOptions>().BindConfiguration(ScoringOptions.Section);
builder.Services.AddHostedService<ScoringWorker>();

// Runs until the worker has written every row (or failed: the exit code is then 1), then exits.
await builder.Build().RunAsync();
