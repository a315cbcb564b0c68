using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore.Tests;

public class PredictEndpointTests
{
    private const string Setosa = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""";

    private static async Task<WebApplication> StartAsync(params (string Name, Func<Exception>? Failure)[] fakes) =>
        await TestApps.StartAsync(
            b =>
            {
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp));
                b.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals);
                b.Services.AddOpenApi();
                foreach (var (name, failure) in fakes)
                {
                    b.Services.AddKeyedSingleton<IPredictor<IrisFlower, IrisPrediction>>(name, new FakePredictor(name, failure));
                }
            },
            app =>
            {
                app.MapPredict<IrisFlower, IrisPrediction>("/predict");
                app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch", "iris");
                foreach (var (name, _) in fakes)
                {
                    app.MapPredict<IrisFlower, IrisPrediction>("/fake/" + name, name);
                }

                app.MapOpenApi();
            });

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    [Fact]
    public async Task MapPredict_ValidInput_ReturnsThePrediction()
    {
        await using var app = await StartAsync();
        var response = await app.GetTestClient().PostAsync("/predict", Json(Setosa));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"species\":\"setosa\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MapPredict_NaN_Returns400NamingTheMember()
    {
        await using var app = await StartAsync();
        var response = await app.GetTestClient().PostAsync("/predict", Json("""{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":"NaN"}"""));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("Invalid input", problem.GetProperty("title").GetString());
        Assert.Equal("IrisFlower.PetalWidth", problem.GetProperty("member").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("IrisFlower.PetalWidth", out var reasons));
        Assert.Contains("NaN", reasons[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("iris", problem.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("{\"sepalLength\":", "Invalid JSON")]
    [InlineData("null", "Invalid JSON")]
    public async Task MapPredict_BadJson_Returns400(string body, string title)
    {
        await using var app = await StartAsync();
        var response = await app.GetTestClient().PostAsync("/predict", Json(body));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(title, problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task MapPredict_NotJson_Returns415()
    {
        await using var app = await StartAsync();
        var response = await app.GetTestClient().PostAsync("/predict", new StringContent(Setosa, Encoding.UTF8, "text/plain"));

        // Routing answers it (the endpoint declares Accepts application/json) before the handler runs.
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task MapPredict_QueueFull_Returns429WithRetryAfter()
    {
        await using var app = await StartAsync(("full", () => new ModelOverloadedException("full", "Queue of model 'full' is full (1024).", TimeSpan.FromMilliseconds(1500))));
        var response = await app.GetTestClient().PostAsync("/fake/full", Json(Setosa));

        var problem = await ProblemAsync(response, HttpStatusCode.TooManyRequests);
        Assert.Equal("2", Assert.Single(response.Headers.GetValues("Retry-After")));
        Assert.Equal(2, problem.GetProperty("retryAfterSeconds").GetInt64());
        Assert.Equal("full", problem.GetProperty("model").GetString());
    }

    [Fact]
    public async Task MapPredict_NotReady_Returns503()
    {
        await using var app = await StartAsync(("loading", () => new ModelNotReadyException("loading", "Model 'loading' is not loaded yet.")));
        var response = await app.GetTestClient().PostAsync("/fake/loading", Json(Setosa));

        var problem = await ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Model not ready", problem.GetProperty("title").GetString());
        Assert.Contains("not loaded yet", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MapPredict_DeadlineExceeded_Returns504()
    {
        await using var app = await StartAsync(("slow", () => new ModelDeadlineExceededException("slow", "Request exceeded its 50 ms deadline.", TimeSpan.FromMilliseconds(50))));
        var response = await app.GetTestClient().PostAsync("/fake/slow", Json(Setosa));

        var problem = await ProblemAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.Equal(50, problem.GetProperty("timeoutMs").GetDouble());
    }

    [Fact]
    public async Task MapPredict_InferenceFailed_Returns500Problem()
    {
        await using var app = await StartAsync(("broken", () => new ModelInferenceException("broken", "ONNX Runtime failed.", null)));
        var response = await app.GetTestClient().PostAsync("/fake/broken", Json(Setosa));

        await ProblemAsync(response, HttpStatusCode.InternalServerError);
    }

    [Fact]
    public async Task MapPredict_ClientAborts_CancelsThePrediction()
    {
        await using var app = await StartAsync(("hang", null));
        var fake = (FakePredictor)app.Services.GetRequiredKeyedService<IPredictor<IrisFlower, IrisPrediction>>("hang");
        using var cts = new CancellationTokenSource();
        var call = app.GetTestClient().PostAsync("/fake/hang", Json(Setosa), cts.Token);
        await fake.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await cts.CancelAsync();

        Assert.True(await fake.Canceled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task MapPredictBatch_ReturnsOnePredictionPerInput_And400NamesTheItem()
    {
        await using var app = await StartAsync();
        var client = app.GetTestClient();

        var ok = await client.PostAsync("/predict/batch", Json($"[{Setosa},{{\"sepalLength\":6.7,\"sepalWidth\":3.0,\"petalLength\":5.2,\"petalWidth\":2.3}}]"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var outputs = await ok.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["setosa", "virginica"], outputs.EnumerateArray().Select(o => o.GetProperty("species").GetString()!).ToArray());

        var bad = await client.PostAsync("/predict/batch", Json($"[{Setosa},{{\"sepalLength\":\"Infinity\",\"sepalWidth\":3.0,\"petalLength\":5.2,\"petalWidth\":2.3}}]"));
        var problem = await ProblemAsync(bad, HttpStatusCode.BadRequest);
        Assert.Equal(1, problem.GetProperty("index").GetInt32());
        Assert.Equal("IrisFlower.SepalLength", problem.GetProperty("member").GetString());
    }

    [Fact]
    public async Task MapPredict_HasOpenApiMetadata()
    {
        await using var app = await StartAsync();
        var endpoint = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.Single(e => e.DisplayName?.Contains("/predict/batch", StringComparison.Ordinal) != true
            && e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == "Predict_iris");
        var statuses = endpoint.Metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>().Select(m => m.StatusCode).ToHashSet();
        Assert.Superset(new HashSet<int> { 200, 400, 415, 429, 500, 503, 504 }, statuses);
        Assert.Contains("iris", endpoint.Metadata.GetMetadata<ITagsMetadata>()!.Tags);
        Assert.Equal(typeof(IrisFlower), endpoint.Metadata.GetMetadata<IAcceptsMetadata>()!.RequestType);

        var document = await app.GetTestClient().GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var post = document.GetProperty("paths").GetProperty("/predict").GetProperty("post");
        Assert.Equal("Predict_iris", post.GetProperty("operationId").GetString());
        foreach (var status in new[] { "200", "400", "429", "503", "504" })
        {
            Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), "OpenAPI lacks response " + status);
        }

        Assert.True(post.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
    }

    [Fact]
    public async Task MapPredict_UnregisteredModel_FailsWhenMapped()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => TestApps.StartAsync(_ => { }, app => app.MapPredict<IrisFlower, IrisPrediction>("/predict", "nope")));
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
    }
}
