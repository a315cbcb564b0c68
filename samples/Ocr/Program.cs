using ModelInService;
using ModelInService.AspNetCore;
using Ocr;

if (args.Contains("--bench"))
{
    // A load run instead of the web app: docs/ocr.md has the command and the figures.
    return await OcrBenchmark.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);

// Three models (det, cls, rec; cls and rec batched) and the pipeline that chains them.
builder.Services.AddOcr(builder.Configuration.GetSection(OcrOptions.Section), builder.Environment.ContentRootPath);

// Model exceptions (429 overloaded, 503 not ready, 504 deadline) become ProblemDetails.
builder.Services.AddModelExceptionHandler();
builder.Services.AddProblemDetails();
builder.Services.AddHealthChecks().AddModelChecks();

var app = builder.Build();
app.UseExceptionHandler();

// POST /ocr: the image as the body (any content type) or as a multipart/form-data file → the lines of text.
app.MapPost("/ocr", OcrEndpoint.HandleAsync).DisableAntiforgery();
app.MapModelHealthChecks();   // GET /health/ready, GET /health/live
app.MapGet("/", () => "POST an image to /ocr, e.g. curl --data-binary @page.png localhost:5082/ocr");

await app.RunAsync();
return 0;
