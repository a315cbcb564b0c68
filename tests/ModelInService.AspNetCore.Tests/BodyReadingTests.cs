using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore.Tests;

/// <summary>
/// How MapPredict and MapPredictBatch read a body: once into a pooled buffer, members the model does not read skipped
/// rather than parsed into a document, the UTF-8 of the whole body checked. Measures allocations process-wide, so it
/// runs alone (the fuzz group).
/// </summary>
[Collection(HttpFuzzGroup.Name)]
public sealed class BodyReadingTests
{
    private const string Setosa = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""";

    private static Task<WebApplication> StartAsync() =>
        TestApps.StartAsync(
            b => b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp)),
            app =>
            {
                app.MapPredict<IrisFlower, IrisPrediction>("/predict", "iris");
                app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch", "iris");
            });

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>A 400 problem that names the model and carries a trace id (every problem of the library does).</summary>
    private static async Task<JsonElement> BadRequestAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("iris", problem.GetProperty("model").GetString());
        Assert.True(problem.TryGetProperty("traceId", out _));
        return problem;
    }

    /// <summary>{"ignored":[0,0,...],"sepalLength":...}: <paramref name="zeros"/> values the model never reads.</summary>
    private static byte[] WithIgnoredArray(int zeros, string row = Setosa)
    {
        var sb = new StringBuilder((zeros * 2) + 200);
        sb.Append("{\"ignored\":[");
        for (var i = 0; i < zeros; i++)
        {
            sb.Append(i == 0 ? "0" : ",0");
        }

        sb.Append("],").Append(row, 1, row.Length - 1);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Fact]
    public async Task IgnoredMembers_AreSkipped_NotParsed_AllocationStaysNearTheBodySize()
    {
        await using var app = await StartAsync();
        var client = app.GetTestClient();
        var single = WithIgnoredArray(4_000_000); // 8 MB: a parsed document of it took ~12 bytes per value (> 48 MB)
        var batch = Encoding.UTF8.GetBytes("[" + Encoding.UTF8.GetString(WithIgnoredArray(2_000_000)) + "," + Setosa + "]");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict", Json(WithIgnoredArray(10)))).StatusCode); // warm

        foreach (var (path, body) in new[] { ("/predict", single), ("/predict/batch", batch) })
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var response = await client.PostAsync(path, Json(body));
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("\"label\":0", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            // The test server's copy of the body and the library's buffer (grown by doubling): a few times the body.
            Assert.True(allocated < 4L * body.Length, $"{path}: {allocated:N0} bytes allocated for a {body.Length:N0}-byte body");
        }
    }

    [Theory]
    [InlineData("/predict", "{\"x\":\"\xFF\xFE\",REST")]
    [InlineData("/predict", "{\"x\":{\"y\":\"\xC0\xAF\"},REST")]
    [InlineData("/predict/batch", "[{\"x\":\"\xFF\",REST]")]
    public async Task InvalidUtf8_InAMemberTheModelIgnores_Is400(string path, string template)
    {
        await using var app = await StartAsync();
        var bytes = Encoding.Latin1.GetBytes(template.Replace("REST", Setosa[1..], StringComparison.Ordinal)); // \xFF etc. as raw bytes

        var problem = await BadRequestAsync(await app.GetTestClient().PostAsync(path, Json(bytes)));

        Assert.Equal("The body is not valid UTF-8.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task InvalidJson_CarriesModelAndTraceId()
    {
        await using var app = await StartAsync();

        var problem = await BadRequestAsync(await app.GetTestClient().PostAsync("/predict", Json(Encoding.UTF8.GetBytes("{\"sepalLength\":"))));

        Assert.Equal("Invalid JSON", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("/predict", "{BODY}")]
    [InlineData("/predict/batch", "[{BODY},{BODY}]")]
    public async Task LeadingBlanksAndByteOrderMark_AreRead_AndTrailingGarbageIsRefused(string path, string template)
    {
        await using var app = await StartAsync();
        var client = app.GetTestClient();
        var text = template.Replace("{BODY}", Setosa, StringComparison.Ordinal);
        var blanks = new string(' ', 100_000) + "\r\n\t";

        byte[] bom = [0xEF, 0xBB, 0xBF];
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(path, Json([.. bom, .. Encoding.UTF8.GetBytes(blanks + text + blanks)]))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(path, Json(Encoding.UTF8.GetBytes(text + " x")))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(path, Json(Encoding.UTF8.GetBytes(text + text)))).StatusCode);
    }

    [Fact]
    public async Task BatchRows_OfEveryJsonKind_AreFound_AndABadOneIsNamedByIndex()
    {
        await using var app = await StartAsync();
        var client = app.GetTestClient();

        // Nested arrays and objects inside a row, strings with brackets and escaped quotes: one row each.
        var tricky = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2,"note":"[{\"]}","deep":[[{"a":[1,{"b":"]"}]}]]}""";
        var ok = await client.PostAsync("/predict/batch", Json(Encoding.UTF8.GetBytes($"[{tricky},{Setosa},{tricky}]")));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(3, (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());

        foreach (var bad in new[] { "1", "\"row\"", "true", "null", "[1,2]" })
        {
            var response = await client.PostAsync("/predict/batch", Json(Encoding.UTF8.GetBytes($"[{Setosa},{bad}]")));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(1, problem.GetProperty("index").GetInt32());
        }
    }
}
