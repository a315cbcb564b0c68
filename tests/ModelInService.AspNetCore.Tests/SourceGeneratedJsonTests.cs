using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore.Tests;

/// <summary>The app's own JSON metadata, as a Native AOT app gives it (no reflection, no ProblemDetails).</summary>
[JsonSerializable(typeof(IrisFlower))]
[JsonSerializable(typeof(IrisPrediction))]
[JsonSerializable(typeof(IReadOnlyList<IrisFlower>))]
[JsonSerializable(typeof(IReadOnlyList<IrisPrediction>))]
internal sealed partial class AppOnlyJsonContext : JsonSerializerContext;

/// <summary>
/// An app whose JSON options know only its own types (samples/AotApi's setup: a source-generated context, reflection off)
/// gets the library's problems, not 500s: an outside probe found every error of the AOT sample answered 500
/// (NotSupportedException: no JsonTypeInfo for ProblemDetails), natively and under dotnet run.
/// </summary>
public sealed class SourceGeneratedJsonTests
{
    [Fact]
    public async Task Problems_are_answered_when_the_apps_json_metadata_lacks_ProblemDetails()
    {
        await using var app = await TestApps.StartAsync(
            b =>
            {
                b.Services.ConfigureHttpJsonOptions(o =>
                {
                    o.SerializerOptions.TypeInfoResolverChain.Clear(); // no reflection-based resolver, as under Native AOT
                    o.SerializerOptions.TypeInfoResolverChain.Add(AppOnlyJsonContext.Default);
                });
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp)).UseMonitoring();
                b.Services.AddPredictEndpoints(o => o.MaxBatchRows = 4);
            },
            app =>
            {
                app.MapPredict<IrisFlower, IrisPrediction>("/predict");
                app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch");
                app.MapModelMonitor("/monitor", o => o.AllowAnonymous = true);
            });
        var client = app.GetTestClient();
        const string Row = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""";

        var ok = await client.PostAsync("/predict", new StringContent(Row, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await Problem(await client.PostAsync("/predict", new StringContent("""{"sepalLength":5.1}""", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "missing");
        await Problem(await client.PostAsync("/predict", new StringContent("""{"sepalLength":"NaN","sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "title");
        await Problem(await client.PostAsync("/predict", new StringContent("{", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "traceId");
        using var latin1 = new StringContent(Row, Encoding.Latin1, "application/json");
        await Problem(await client.PostAsync("/predict", latin1), HttpStatusCode.UnsupportedMediaType, "title");
        await Problem(await client.PostAsync("/predict/batch", new StringContent("[" + string.Join(",", Enumerable.Repeat(Row, 5)) + "]", Encoding.UTF8, "application/json")), HttpStatusCode.RequestEntityTooLarge, "maxRows");
        await Problem(await client.GetAsync("/monitor/api/models/iris/report?window=abc"), HttpStatusCode.BadRequest, "title");
        await Problem(await client.GetAsync("/monitor/api/models/nope/report"), HttpStatusCode.NotFound, "title");
    }

    private static async Task Problem(HttpResponseMessage response, HttpStatusCode status, string member)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        Assert.True(json.RootElement.TryGetProperty(member, out _), body);
    }
}
