using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using ModelInService.TestUtilities;

namespace Ocr.Tests;

/// <summary>POST /ocr on rendered text, through the real PaddleOCR models.</summary>
/// <remarks>
/// Text is rendered at 32 px in DejaVu Sans. With PaddleOCR's unclip ratio of 1.5 the crops were too tight and the
/// recognizer dropped spaces ("HelloWorld2024") and read a lone "0" as "O"; the sample's default is 2.5 (docs/ocr.md).
/// </remarks>
public sealed class OcrEndpointTests
{
    private const int FontSize = 32;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static void SkipUnlessReady()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        Skip.IfNot(TextImage.FontAvailable, $"{TextImage.FontPath} not found: install fonts-dejavu-core");
    }

    private static WebApplicationFactory<Program> App(params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Ocr:ModelDirectory", SharedData.Model("vision", "paddleocr"));
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }
        });

    private static async Task<OcrResult> PostAsync(HttpClient client, byte[] png)
    {
        using var content = new ByteArrayContent(png);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<OcrResult>(body, Json)!;
    }

    [SkippableFact]
    public async Task Ocr_ClearLatinLines_AreReadExactlyWithTheirBoxes()
    {
        SkipUnlessReady();
        var png = TextImage.Render(736, 256, FontSize,
            ("Hello World 2024", 30, 20, false),
            ("Order 58213 shipped", 30, 100, false),
            ("ABC 123 xyz 789", 300, 180, false));
        await using var app = App();
        using var client = app.CreateClient();

        var result = await PostAsync(client, png);

        Assert.Equal(["Hello World 2024", "Order 58213 shipped", "ABC 123 xyz 789"], result.Lines.Select(l => l.Text));
        Assert.All(result.Lines, l => Assert.True(l.Score > 0.8f, $"'{l.Text}' score {l.Score}"));
        Assert.All(result.Lines, l => Assert.Equal(0, l.Angle));

        // Each box holds its line: the rendered text starts at x = 30 (300 for the third) with its top at y = 20/100/180
        // and 32-pixel glyphs; the boxes are grown by DB's unclip, so allow a margin of about a glyph's height.
        (int Left, int Top)[] drawn = [(30, 20), (30, 100), (300, 180)];
        for (var i = 0; i < drawn.Length; i++)
        {
            var box = result.Lines[i].Box;
            Assert.InRange(box.X, drawn[i].Left - 32, drawn[i].Left + 4);
            Assert.InRange(box.Y, drawn[i].Top - 24, drawn[i].Top + 16);
            Assert.InRange(box.Y + box.Height, drawn[i].Top + FontSize - 4, drawn[i].Top + FontSize + 30);
            Assert.InRange(box.Height, 24, 80);
        }

        Assert.True(result.Lines[2].Box.X + result.Lines[2].Box.Width > 500, "the third line's box reaches its end");
    }

    [SkippableFact]
    public async Task Ocr_UpsideDownLine_IsTurnedByTheClassifierAndRead()
    {
        SkipUnlessReady();
        var png = TextImage.Render(640, 192, FontSize,
            ("Upright 4711 text", 30, 30, false),
            ("Turned 2468 line", 30, 120, true));
        await using var app = App();
        using var client = app.CreateClient();

        var result = await PostAsync(client, png);

        Assert.Equal(2, result.Lines.Count);
        var upright = Assert.Single(result.Lines, l => l.Angle == 0);
        var turned = Assert.Single(result.Lines, l => l.Angle == 180);
        Assert.Equal("Upright 4711 text", upright.Text);
        Assert.Equal("Turned 2468 line", turned.Text);
    }

    [SkippableFact]
    public async Task Ocr_MultipartFile_IsRead()
    {
        SkipUnlessReady();
        var png = TextImage.Render(480, 96, FontSize, ("Invoice 4242 paid", 20, 30, false));
        await using var app = App();
        using var client = app.CreateClient();
        using var form = new MultipartFormDataContent();
        using var file = new ByteArrayContent(png);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "page.png");

        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<OcrResult>(Json);
        Assert.Equal("Invoice 4242 paid", Assert.Single(result!.Lines).Text);
    }

    [SkippableFact]
    public async Task Ocr_ImageSentAsCurlDataBinary_IsReadWhateverTheContentType()
    {
        SkipUnlessReady();
        var png = TextImage.Render(480, 96, FontSize, ("Order 58213 shipped", 20, 30, false));
        await using var app = App();
        using var client = app.CreateClient();
        using var content = new ByteArrayContent(png);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");

        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<OcrResult>(Json);
        Assert.Equal("Order 58213 shipped", Assert.Single(result!.Lines).Text);
    }

    [SkippableTheory]
    [InlineData("this is not an image", "not an image")]
    [InlineData("", "empty")]
    public async Task Ocr_BodyThatIsNotAnImage_Is400WithTheReason(string body, string reason)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var app = App();
        using var client = app.CreateClient();
        using var content = new StringContent(body);

        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        Assert.Contains(reason, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Ocr_ConcurrentRequests_CropsOfDifferentRequestsShareBatches()
    {
        SkipUnlessReady();
        const int Requests = 4;
        const int LinesPerImage = 2;

        // A long MaxDelay and no idle dispatch: a batch waits for the crops of the other requests, which reach the
        // classifier once their detector runs are done.
        await using var app = App(("Ocr:MaxDelayMilliseconds", "1500"), ("Ocr:DispatchWhenIdle", "false"), ("Ocr:MaxBatchSize", "64"));
        using var batches = new BatchCounter();
        using var client = app.CreateClient();
        var pngs = Enumerable.Range(0, Requests)
            .Select(i => TextImage.Render(576, 128, FontSize, ($"Request {i} alpha", 20, 20, false), ($"Number {100 + i}", 20, 76, false)))
            .ToArray();

        var results = await Task.WhenAll(pngs.Select(p => PostAsync(client, p)));

        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal([$"Request {i} alpha", $"Number {100 + i}"], results[i].Lines.Select(l => l.Text));
        }

        var (clsRuns, clsCrops) = batches.Of(OcrModelNames.Classifier);
        var (recRuns, recCrops) = batches.Of(OcrModelNames.Recognizer);
        Assert.Equal(Requests * LinesPerImage, clsCrops);
        Assert.Equal(Requests * LinesPerImage, recCrops);

        // Fewer runs than requests: at least one run held crops of more than one request.
        Assert.True(clsRuns < Requests, $"cls ran {clsRuns} batches for {Requests} requests");
        Assert.True(recRuns < Requests, $"rec ran {recRuns} batches for {Requests} requests");
    }

    [SkippableFact]
    public async Task Ocr_BatchingOff_GivesTheSameText()
    {
        SkipUnlessReady();
        var png = TextImage.Render(576, 128, FontSize, ("Order 58213 shipped", 20, 20, false), ("Page 17 of 230", 20, 76, false));
        await using var app = App(("Ocr:Batching", "false"));
        using var batches = new BatchCounter();
        using var client = app.CreateClient();

        var result = await PostAsync(client, png);

        Assert.Equal(["Order 58213 shipped", "Page 17 of 230"], result.Lines.Select(l => l.Text));
        Assert.Equal((0, 0), batches.Of(OcrModelNames.Recognizer));
    }

    [SkippableTheory]
    [InlineData("multipart/form-data")] // no boundary
    [InlineData("multipart/form-data; boundary=XYZ")] // a boundary the body lacks
    public async Task Ocr_MalformedMultipart_Is400NotA500(string contentType)
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var app = App();
        using var client = app.CreateClient();
        using var content = new ByteArrayContent(TextImage.Render(64, 32, FontSize));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        Assert.Equal("Malformed multipart body", problem.GetProperty("title").GetString());
    }

    [SkippableFact]
    public async Task Ocr_ImageWithTooManyPixels_Is413ImageTooLarge()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        Skip.IfNot(TextImage.FontAvailable, $"{TextImage.FontPath} not found: install fonts-dejavu-core");
        await using var app = App(("Ocr:MaxImagePixels", "10000"));
        using var client = app.CreateClient();
        using var content = new ByteArrayContent(TextImage.Render(200, 100, FontSize));

        using var response = await client.PostAsync(new Uri("/ocr", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        Assert.Equal("Image too large", problem.GetProperty("title").GetString());
        Assert.Contains("200x100 pixels; at most 10000", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Ocr_ManyLines_FeedTheBatcherAFewCropsAtATime_AndAreAllRead()
    {
        SkipUnlessReady();
        var lines = Enumerable.Range(0, 6).Select(i => ($"Line {i} number {200 + i}", 20, 20 + (i * 56), false)).ToArray();
        var png = TextImage.Render(576, 30 + (6 * 56), FontSize, lines);
        // Room for 64 crops a run and a long wait for more: without the per-request window all 6 crops would share a
        // run; with 2 in flight a run holds at most 2.
        await using var app = App(("Ocr:MaxCropsInFlightPerRequest", "2"), ("Ocr:MaxBatchSize", "64"), ("Ocr:MaxDelayMilliseconds", "100"), ("Ocr:DispatchWhenIdle", "false"));
        using var batches = new BatchCounter();
        using var client = app.CreateClient();

        var result = await PostAsync(client, png);

        Assert.Equal(lines.Select(l => l.Item1), result.Lines.Select(l => l.Text));
        var (recRuns, recCrops) = batches.Of(OcrModelNames.Recognizer);
        Assert.Equal(6, recCrops);
        Assert.True(recRuns >= 3, $"rec ran {recRuns} batches for 6 crops with 2 in flight");
    }
}
