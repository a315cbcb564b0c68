using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore.Tests;

[ApiController]
[Route("mvc")]
[ModelProblemDetails]
public sealed class ThrowingController : ControllerBase
{
    [HttpPost("{kind}")]
    public async Task<IrisPrediction> Post(string kind, IrisFlower flower, [FromServices] IServiceProvider services, CancellationToken cancellationToken)
    {
        var predictor = services.GetRequiredKeyedService<IPredictor<IrisFlower, IrisPrediction>>(kind);
        return await predictor.PredictAsync(flower, cancellationToken);
    }

    [HttpGet("other")]
    public IActionResult Other() => throw new InvalidOperationException("not a model error");
}

public class MvcAndExceptionHandlerTests
{
    private const string Setosa = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""";

    private static async Task<WebApplication> StartMvcAsync() => await TestApps.StartAsync(
        b =>
        {
            b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp));
            b.Services.AddKeyedSingleton<IPredictor<IrisFlower, IrisPrediction>>("full", new FakePredictor("full", () => new ModelOverloadedException("full", "Queue full.", TimeSpan.FromSeconds(3))));
            b.Services.AddKeyedSingleton<IPredictor<IrisFlower, IrisPrediction>>("bad", new FakePredictor("bad", () => new ModelInputException("bad", "IrisFlower.PetalWidth", "is NaN")));
            b.Services.AddKeyedSingleton<IPredictor<IrisFlower, IrisPrediction>>("loading", new FakePredictor("loading", () => new ModelNotReadyException("loading", "Not loaded yet.")));
            b.Services.AddKeyedSingleton<IPredictor<IrisFlower, IrisPrediction>>("slow", new FakePredictor("slow", () => new ModelDeadlineExceededException("slow", "Too slow.", TimeSpan.FromSeconds(1))));
            b.Services.AddControllers().AddApplicationPart(typeof(ThrowingController).Assembly);
        },
        app => app.MapControllers());

    [Theory]
    [InlineData("iris", HttpStatusCode.OK)]
    [InlineData("bad", HttpStatusCode.BadRequest)]
    [InlineData("full", HttpStatusCode.TooManyRequests)]
    [InlineData("loading", HttpStatusCode.ServiceUnavailable)]
    [InlineData("slow", HttpStatusCode.GatewayTimeout)]
    public async Task ModelProblemDetailsFilter_MapsEveryModelException(string kind, HttpStatusCode expected)
    {
        await using var app = await StartMvcAsync();
        var response = await app.GetTestClient().PostAsync("/mvc/" + kind, new StringContent(Setosa, Encoding.UTF8, "application/json"));

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            return;
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.Equal(kind, problem.GetProperty("model").GetString());
        if (expected == HttpStatusCode.TooManyRequests)
        {
            Assert.Equal("3", Assert.Single(response.Headers.GetValues("Retry-After")));
        }

        if (expected == HttpStatusCode.BadRequest)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty("IrisFlower.PetalWidth", out _));
        }
    }

    [Fact]
    public async Task ModelProblemDetailsFilter_LeavesOtherExceptionsAlone()
    {
        await using var app = await StartMvcAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => app.GetTestClient().GetAsync("/mvc/other"));
    }

    [Fact]
    public async Task AddModelExceptionHandler_MapsExceptionsFromAnyEndpoint()
    {
        await using var app = await TestApps.StartAsync(
            b => b.Services.AddModelExceptionHandler(),
            app =>
            {
                app.UseExceptionHandler();
                app.MapGet("/slow", string () => throw new ModelDeadlineExceededException("m", "Too slow.", TimeSpan.FromSeconds(1)));
                app.MapGet("/full", string () => throw new ModelOverloadedException("m", "Queue full.", TimeSpan.FromSeconds(0.2)));
            });
        var client = app.GetTestClient();

        var slow = await client.GetAsync("/slow");
        Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
        Assert.Equal("application/problem+json", slow.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Model deadline exceeded", (await slow.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());

        var full = await client.GetAsync("/full");
        Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);
        Assert.Equal("1", Assert.Single(full.Headers.GetValues("Retry-After")));
    }

    [Fact]
    public async Task AddModelExceptionHandler_MapsStreamLimitTo503_AndClosedStreamTo410()
    {
        await using var app = await TestApps.StartAsync(
            b => b.Services.AddModelExceptionHandler(),
            app =>
            {
                app.UseExceptionHandler();
                app.MapGet("/limit", string () => throw new ModelStreamLimitException("vad", 1024));
                app.MapGet("/expired", string () => throw new ModelStreamClosedException("vad", "mic-7", expired: true));
                app.MapGet("/closed", string () => throw new ModelStreamClosedException("vad", "mic-8", expired: false));
            });
        var client = app.GetTestClient();

        var limit = await client.GetAsync("/limit");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, limit.StatusCode);
        var limitProblem = await limit.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Model stream limit reached", limitProblem.GetProperty("title").GetString());
        Assert.Equal(1024, limitProblem.GetProperty("maxStreams").GetInt32());
        Assert.Equal("vad", limitProblem.GetProperty("model").GetString());

        var expired = await client.GetAsync("/expired");
        Assert.Equal(HttpStatusCode.Gone, expired.StatusCode);
        var expiredProblem = await expired.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Model stream expired", expiredProblem.GetProperty("title").GetString());
        Assert.Equal("mic-7", expiredProblem.GetProperty("streamId").GetString());
        Assert.True(expiredProblem.GetProperty("expired").GetBoolean());

        var closed = await client.GetAsync("/closed");
        Assert.Equal(HttpStatusCode.Gone, closed.StatusCode);
        Assert.Equal("Model stream closed", (await closed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
    }

    [Fact]
    public async Task MvcControllersSample_Predicts_MapsNaNTo400_AndIsReady()
    {
        await using var factory = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<MvcControllers.IrisFlower>();
        var client = factory.CreateClient();

        var ok = await client.PostAsync("/iris/predict", new StringContent(Setosa, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Contains("\"species\":\"setosa\"", await ok.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var nan = await client.PostAsync("/iris/predict", new StringContent("""{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":"NaN"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, nan.StatusCode);
        Assert.Contains("IrisFlower.PetalWidth", await nan.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Input members are required (ModelInputJson.RequireInputMembers): {} and snake_case keys are 400, not zeros.
        foreach (var body in new[] { "{}", """{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}""" })
        {
            var missing = await client.PostAsync("/iris/predict", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("sepalLength", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("model:iris", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }
}
