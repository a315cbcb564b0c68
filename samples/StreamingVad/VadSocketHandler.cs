using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ModelInService;

namespace StreamingVad;

/// <summary>
/// Serves one WebSocket connection as one stream of the VAD model: binary messages of 16 kHz mono PCM (int16
/// little-endian, any length) in, JSON text messages <c>{"event":"start"|"end","timeMs":...}</c> out. The stream is
/// opened when the socket is accepted and closed (its state freed) when the socket ends. Thread-safe (a singleton; each
/// connection's state is local to <see cref="HandleAsync"/>).
/// </summary>
public sealed partial class VadSocketHandler(
    IStreamPredictor<VadChunk, VadResult> vad,
    IOptions<VadSettings> settings,
    IHostApplicationLifetime lifetime,
    ILogger<VadSocketHandler> logger)
{
    /// <summary>RFC 6455 registry: "Try Again Later" (the service is overloaded), not in <see cref="WebSocketCloseStatus"/>.</summary>
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Accepts the WebSocket and runs the stream until either side closes it.</summary>
    /// <param name="http">The request.</param>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (!http.WebSockets.IsWebSocketRequest)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            await http.Response.WriteAsync("Connect with a WebSocket and send 16 kHz mono PCM (int16 little-endian) as binary messages.", http.RequestAborted);
            return;
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        IStreamSession<VadChunk, VadResult> stream;
        try
        {
            stream = vad.OpenStream(http.TraceIdentifier);
        }
        catch (ModelStreamLimitException ex)
        {
            LogRefused(logger, ex.MaxStreams);
            await CloseAsync(socket, TryAgainLater, "stream limit reached: try again later");
            return;
        }

        LogOpened(logger, stream.Id);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        (WebSocketCloseStatus Status, string Reason)? close;
        await using (stream)
        {
            close = await RunAsync(socket, stream, stopping.Token);
        }

        LogClosed(logger, stream.Id, stream.ChunkCount, close?.Reason ?? "connection lost");
        if (close is { } c)
        {
            await CloseAsync(socket, c.Status, c.Reason);
        }
    }

    /// <summary>Reads PCM, runs every completed 512-sample chunk through the stream and sends the events.</summary>
    /// <returns>How to close the socket, or null when the connection is gone.</returns>
    private async Task<(WebSocketCloseStatus, string)?> RunAsync(WebSocket socket, IStreamSession<VadChunk, VadResult> stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var chunker = new PcmChunker();
        var detector = new SpeechDetector(settings.Value);
        var chunks = new List<float[]>();
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    // Speech still going on when the client stops ends at its last sample (a partial chunk is dropped).
                    if (detector.Finish() is { } last)
                    {
                        await SendAsync(socket, last, cancellationToken);
                    }

                    return (WebSocketCloseStatus.NormalClosure, "");
                }

                if (received.MessageType == WebSocketMessageType.Text)
                {
                    return (WebSocketCloseStatus.InvalidMessageType, "send 16 kHz mono PCM as binary messages (int16 little-endian)");
                }

                chunker.Append(buffer.AsSpan(0, received.Count), chunks);
                foreach (var samples in chunks)
                {
                    // Awaiting each chunk before reading on is the back-pressure: a client faster than the model waits in TCP.
                    var result = await stream.PredictAsync(new VadChunk { Samples = samples }, cancellationToken);
                    if (detector.Process(result.Probability) is { } speech)
                    {
                        await SendAsync(socket, speech, cancellationToken);
                    }
                }

                chunks.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return lifetime.ApplicationStopping.IsCancellationRequested ? (WebSocketCloseStatus.EndpointUnavailable, "server stopping") : null;
        }
        catch (WebSocketException)
        {
            return null; // the client vanished without a close
        }
        catch (ModelOverloadedException)
        {
            return (TryAgainLater, "server overloaded: try again later");
        }
        catch (ModelDeadlineExceededException)
        {
            return (TryAgainLater, "server fell behind real time: try again later");
        }
        catch (ModelStreamClosedException ex) when (ex.Expired)
        {
            return (WebSocketCloseStatus.PolicyViolation, "idle too long: stream expired");
        }
        catch (ModelException ex)
        {
            LogFailed(logger, ex, stream.Id);
            return (WebSocketCloseStatus.InternalServerError, "model error");
        }
    }

    private static async Task SendAsync(WebSocket socket, SpeechEvent speech, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(speech, VadJsonContext.Default.SpeechEvent);
        await socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
    }

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            await socket.CloseAsync(status, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client is gone or does not answer the close: nothing more to do.
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "VAD stream {StreamId} opened")]
    private static partial void LogOpened(ILogger logger, string streamId);

    [LoggerMessage(2, LogLevel.Debug, "VAD stream {StreamId} closed after {Chunks} chunks: {Reason}")]
    private static partial void LogClosed(ILogger logger, string streamId, long chunks, string reason);

    [LoggerMessage(3, LogLevel.Warning, "VAD connection refused: {MaxStreams} streams are open (Vad:MaxStreams)")]
    private static partial void LogRefused(ILogger logger, int maxStreams);

    [LoggerMessage(4, LogLevel.Warning, "VAD stream {StreamId} failed; the socket is closed with 1011")]
    private static partial void LogFailed(ILogger logger, Exception exception, string streamId);
}
