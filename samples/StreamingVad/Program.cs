using ModelInService;
using ModelInService.AspNetCore;
using StreamingVad;

var builder = WebApplication.CreateBuilder(args);

// Settings from appsettings.json's "Vad" section, or the command line: --Vad:ModelPath /path/to/silero_vad.onnx
var section = builder.Configuration.GetSection("Vad");
var settings = section.Get<VadSettings>() ?? new VadSettings();
builder.Services.AddOptions<VadSettings>().Bind(section)
    .Validate(s => s.Threshold is > 0.15f and <= 1f, "Vad:Threshold must be in (0.15, 1].")
    .Validate(s => s.MinSilenceDurationMs >= 0 && s.SpeechPadMs >= 0, "Vad:MinSilenceDurationMs and Vad:SpeechPadMs must not be negative.")
    .Validate(s => s.IdleTimeout > TimeSpan.Zero, "Vad:IdleTimeout must be positive.")
    .ValidateOnStart();

// Silero VAD v5 as a streaming model: the library keeps each stream's state (state [2,N,128] -> stateN, found from the
// signature) and its 64 samples of context between chunks, and runs the chunks of concurrent streams as one batch.
builder.Services.AddStreamingModel<VadChunk, VadResult>("vad", ModelFile.Resolve(settings.ModelPath, builder.Environment.ContentRootPath), o =>
{
    o.ContextInput = "input";     // [N, 64 + 512]: the stream's previous 64 samples first, as Silero's own wrapper does
    o.ContextLength = 64;
    o.Constants["sr"] = 16000L;   // the sample rate, an int64 scalar input
    o.MaxStreams = settings.MaxStreams;
    o.IdleTimeout = settings.IdleTimeout;
});
builder.Services.AddSingleton<VadSocketHandler>();
builder.Services.AddHealthChecks().AddModelChecks();

var app = builder.Build();

// Pings every 30 s keep idle connections alive through proxies.
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });

// ws://localhost:5083/vad: one WebSocket = one stream (see README.md for the protocol).
app.Map("/vad", (HttpContext http, VadSocketHandler handler) => handler.HandleAsync(http));
app.MapModelHealthChecks();   // GET /health/ready, GET /health/live
app.MapGet("/", () => "Connect a WebSocket to /vad and send 16 kHz mono PCM (int16 little-endian) as binary messages; speech start/end events come back as JSON.");

app.Run();

/// <summary>The app's entry point (public for WebApplicationFactory in the tests).</summary>
public partial class Program;
