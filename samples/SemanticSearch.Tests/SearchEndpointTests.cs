using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelInService;

namespace SemanticSearch.Tests;

/// <summary>The app with the real model: started once (the corpus embedded once) for all the endpoint tests.</summary>
public sealed class SearchAppFixture : IDisposable
{
    public WebApplicationFactory<Program> Factory { get; } = new();

    public HttpClient Client => _client ??= Factory.CreateClient();

    private HttpClient? _client;

    public void Dispose()
    {
        _client?.Dispose();
        Factory.Dispose();
    }
}

public sealed class SearchEndpointTests(SearchAppFixture app) : IClassFixture<SearchAppFixture>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private async Task<SearchHit[]> SearchAsync(string query, int k)
    {
        var response = await app.Client.GetAsync($"/search?q={Uri.EscapeDataString(query)}&k={k}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var hits = await response.Content.ReadFromJsonAsync<SearchHit[]>(Json);
        Assert.NotNull(hits);
        return hits;
    }

    [Theory]
    [InlineData("how do I bake bread", "cooking")]
    [InlineData("which funds should I invest my retirement savings in", "finance")]
    [InlineData("my program throws an exception and the stack overflows", "programming")]
    [InlineData("who scored the winning goal in the football game", "sport")]
    [InlineData("what to pack for a flight abroad", "travel")]
    [InlineData("when should I plant flower bulbs", "gardening")]
    public async Task TheTopHitIsASentenceOfTheQuerysTopic(string query, string topic)
    {
        var hits = await SearchAsync(query, 3);

        Assert.Equal(3, hits.Length);
        Assert.Equal(topic, hits[0].Topic);
        Assert.Contains(hits[0].Text, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpus.txt")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScoresAreCosinesSortedBestFirst()
    {
        var hits = await SearchAsync("a healthy diet and enough sleep", 50);

        Assert.Equal(50, hits.Length);
        Assert.All(hits, h => Assert.InRange(h.Score, -1f, 1f));
        for (var i = 1; i < hits.Length; i++)
        {
            Assert.True(hits[i - 1].Score >= hits[i].Score, $"hit {i - 1} ({hits[i - 1].Score}) ranks above hit {i} ({hits[i].Score})");
        }

        Assert.Equal(50, hits.Select(h => h.Text).Distinct().Count());
        Assert.True(hits[0].Score > hits[^1].Score + 0.1f, "the best and the 50th hit should not score alike");
    }

    [Fact]
    public async Task AQueryEqualToACorpusSentenceFindsItWithCosineOne()
    {
        const string sentence = "A mutex ensures that only one thread enters the critical section.";

        var hits = await SearchAsync(sentence, 1);

        var hit = Assert.Single(hits);
        Assert.Equal(sentence, hit.Text);
        Assert.InRange(hit.Score, 0.999f, 1f);
    }

    [Theory]
    [InlineData("/search")]
    [InlineData("/search?k=5")]
    [InlineData("/search?q=&k=5")]
    [InlineData("/search?q=%20%20")]
    [InlineData("/search?q=%00")] // tokenize to nothing: searched as an empty text, they answered unrelated sentences
    [InlineData("/search?q=%E2%80%8B%E2%80%8B")] // zero-width spaces
    [InlineData("/search?q=%01%02%03%7F")]
    public async Task AMissingQueryIsA400SayingSo(string url)
    {
        var response = await app.Client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Json);
        Assert.Equal("The query is missing", problem?.Title);
        Assert.Contains("q", problem?.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(51)]
    public async Task KOutside1To50IsA400(int k)
    {
        var response = await app.Client.GetAsync($"/search?q=music&k={k}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Json);
        Assert.Equal("k is out of range", problem?.Title);
        Assert.Contains($"got {k}", problem?.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    public async Task KAtTheBoundsGivesThatManyHits(int k)
    {
        var hits = await SearchAsync("music", k);

        Assert.Equal(k, hits.Length);
    }

    [Fact]
    public async Task WithoutKFiveHitsAreReturned()
    {
        var hits = await app.Client.GetFromJsonAsync<SearchHit[]>("/search?q=guitar%20concert", Json);

        Assert.NotNull(hits);
        Assert.Equal(5, hits.Length);
        Assert.Equal("music", hits[0].Topic);
    }

    [Fact]
    public async Task ReadinessIsHealthyWithTheWholeCorpusIndexed()
    {
        var response = await app.Client.GetAsync("/health/ready");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"name\":\"corpus\"", body, StringComparison.Ordinal);
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "corpus.txt")).Count(l => l.Contains('|', StringComparison.Ordinal));
        Assert.Contains($"{lines} sentences indexed", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/search?q=bread&k=abc")]
    [InlineData("/search?q=bread&k=99999999999")]
    [InlineData("/search?q=bread&k=1.5")]
    public async Task AKThatIsNotAnIntegerIsA400ProblemNotAnEmptyBody(string url)
    {
        // In Production the framework answers a parameter it cannot bind with an empty 400 (in Development it throws,
        // and the exception handler writes the problem).
        using var factory = app.Factory.WithWebHostBuilder(b => b.UseEnvironment("Production"));
        using var client = factory.CreateClient();

        var response = await client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("overloaded", HttpStatusCode.TooManyRequests)]
    [InlineData("deadline", HttpStatusCode.GatewayTimeout)]
    public async Task ModelOverloadAndDeadlineAreProblemDetailsNot500s(string failure, HttpStatusCode expected)
    {
        // The real generator, failing as the batcher does under load for one query text (it was a 500 with an empty body).
        using var factory = app.Factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            var original = services.Last(d => d.IsKeyedService && Equals(d.ServiceKey, CorpusIndexer.ModelName) && d.ServiceType == typeof(IEmbeddingGenerator<string, Embedding<float>>));
            services.Remove(original);
            services.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(CorpusIndexer.ModelName, (sp, key) =>
                new FailingGenerator((IEmbeddingGenerator<string, Embedding<float>>)original.KeyedImplementationFactory!(sp, key)));
        }));
        using var client = factory.CreateClient();
        for (var i = 0; i < 300 && (await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK; i++)
        {
            await Task.Delay(100);
        }

        var response = await client.GetAsync("/search?q=" + failure);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (expected == HttpStatusCode.TooManyRequests)
        {
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        }
    }

    private sealed class FailingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            var texts = values.ToList();
            return texts is ["overloaded"] ? throw new ModelOverloadedException(CorpusIndexer.ModelName, "The queue is full.", TimeSpan.FromSeconds(2))
                : texts is ["deadline"] ? throw new ModelDeadlineExceededException(CorpusIndexer.ModelName, "Deadline exceeded.", TimeSpan.FromSeconds(1))
                : base.GenerateAsync(texts, options, cancellationToken);
        }
    }
}
