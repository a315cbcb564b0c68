using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ModelInService.AspNetCore.Tests;

public sealed class IrisFlower
{
    [ModelInput("features")] public float SepalLength { get; set; }
    [ModelInput("features")] public float SepalWidth { get; set; }
    [ModelInput("features")] public float PetalLength { get; set; }
    [ModelInput("features")] public float PetalWidth { get; set; }
}

public sealed class IrisPrediction
{
    private static readonly string[] Names = ["setosa", "versicolor", "virginica"];

    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];

    public string Species => Names[Label];
}

/// <summary>A predictor that fails every call with the given exception (or, with null, waits for cancellation).</summary>
internal sealed class FakePredictor(string name, Func<Exception>? failure) : IPredictor<IrisFlower, IrisPrediction>
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<bool> Canceled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string ModelName => name;

    public async ValueTask<IrisPrediction> PredictAsync(IrisFlower input, CancellationToken cancellationToken = default)
    {
        Entered.TrySetResult();
        if (failure is not null)
        {
            throw failure();
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Canceled.TrySetResult(true);
            throw;
        }

        return new IrisPrediction();
    }

    public ValueTask<IrisPrediction> PredictAsync(IrisFlower input, PredictionOptions options, CancellationToken cancellationToken = default) =>
        PredictAsync(input, cancellationToken);

    public ValueTask<IReadOnlyList<IrisPrediction>> PredictBatchAsync(IReadOnlyList<IrisFlower> inputs, CancellationToken cancellationToken = default) =>
        failure is null ? ValueTask.FromResult<IReadOnlyList<IrisPrediction>>([]) : ValueTask.FromException<IReadOnlyList<IrisPrediction>>(failure());
}

/// <summary>Authenticates requests that carry X-Test-User; X-Test-Role adds a role claim.</summary>
internal sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Test";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue("X-Test-User", out var user))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, user.ToString()) };
        if (Request.Headers.TryGetValue("X-Test-Role", out var role))
        {
            claims.Add(new Claim(ClaimTypes.Role, role.ToString()));
        }

        var identity = new ClaimsIdentity(claims, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}

internal static class TestApps
{
    public static string IrisMlp => Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx");

    public static readonly DateTimeOffset Start = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Builds and starts an app on the in-memory TestServer (or on Kestrel with <paramref name="url"/>).</summary>
    public static async Task<WebApplication> StartAsync(Action<WebApplicationBuilder> configure, Action<WebApplication> map, string? url = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        if (url is null)
        {
            builder.WebHost.UseTestServer();
        }
        else
        {
            builder.WebHost.UseUrls(url);
        }

        builder.Services.AddAuthentication(TestAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy("monitor-readers", p => p.RequireRole("ops")));
        configure(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }

    public static IEnumerable<IrisFlower> Flowers(int count, int seed, float shift = 0)
    {
        var random = new Random(seed);
        float[][] centers = [[5.0f, 3.4f, 1.5f, 0.2f], [5.9f, 2.8f, 4.3f, 1.3f], [6.6f, 3.0f, 5.6f, 2.0f]];
        for (var i = 0; i < count; i++)
        {
            var c = centers[i % 3];
            float Noise() => (float)((random.NextDouble() - 0.5) * 0.6);
            yield return new IrisFlower
            {
                SepalLength = c[0] + Noise() + shift,
                SepalWidth = c[1] + Noise(),
                PetalLength = c[2] + Noise() + (1.5f * shift),
                PetalWidth = c[3] + Noise(),
            };
        }
    }
}
