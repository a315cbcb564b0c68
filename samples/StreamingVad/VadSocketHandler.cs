using System.Diagnostics;
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

    private const string IdleReason = "idle too long: stream expired";

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
            await CloseAsync(new Connection(socket), TryAgainLater, "stream limit reached: try again later");
            return;
        }

        LogOpened(logger, stream.Id);
        var connection = new Connection(socket);
        using (var finished = new CancellationTokenSource())
        {
            // The server's own closes (shutting down, idle too long) are sent beside the receive, never by cancelling
            // it: a cancelled WebSocket receive aborts the socket, and the client would get a reset, not the close.
            var watchdog = WatchAsync(connection, finished.Token);
            (WebSocketCloseStatus Status, string Reason)? close;
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
            await using (stream)
            {
                close = await RunAsync(connection, stream, http.RequestAborted, stopping.Token);
            }

            await finished.CancelAsync();
            await watchdog;
            close = connection.ClosedByServer ?? close;
            LogClosed(logger, stream.Id, stream.ChunkCount, close?.Reason ?? "connection lost");
            if (close is { } c)
            {
                await CloseAsync(connection, c.Status, c.Reason);
            }
        }
    }

    /// <summary>Reads PCM, runs every completed 512-sample chunk through the stream and sends the events.</summary>
    /// <param name="connection">The socket and what the server decided about it.</param>
    /// <param name="stream">The model's stream of this connection.</param>
    /// <param name="aborted">The client is gone (cancels the receive).</param>
    /// <param name="stopping">The client is gone or the server stops (cancels a prediction, never the receive).</param>
    /// <returns>How to close the socket, or null when the connection is gone.</returns>
    private async Task<(WebSocketCloseStatus, string)?> RunAsync(Connection connection, IStreamSession<VadChunk, VadResult> stream, CancellationToken aborted, CancellationToken stopping)
    {
        var socket = connection.Socket;
        var buffer = new byte[16 * 1024];
        var chunker = new PcmChunker();
        var detector = new SpeechDetector(settings.Value);
        var chunks = new List<float[]>();
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(), aborted);
                connection.Received();
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    // Speech still going on when the client stops ends at its last sample (a partial chunk is dropped).
                    // Not after the server closed: nothing may be sent after a close.
                    if (connection.ClosedByServer is null && detector.Finish() is { } last)
                    {
                        await SendAsync(connection, last, stopping);
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
                    var result = await stream.PredictAsync(new VadChunk { Samples = samples }, stopping);
                    if (detector.Process(result.Probability) is { } speech)
                    {
                        await SendAsync(connection, speech, stopping);
                    }
                }

                chunks.Clear();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
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
            return (WebSocketCloseStatus.PolicyViolation, IdleReason);
        }
        catch (ModelException ex)
        {
            LogFailed(logger, ex, stream.Id);
            return (WebSocketCloseStatus.InternalServerError, "model error");
        }
    }

    /// <summary>
    /// Closes the connection from the server's side when the host stops (1001) or no audio came for the idle timeout
    /// (1008: the stream has expired; without this the socket of a silent client stayed open, holding memory, while its
    /// place was given to others). The receive then sees the client's answering close; a client that never answers is
    /// aborted after <see cref="CloseTimeout"/>.
    /// </summary>
    private async Task WatchAsync(Connection connection, CancellationToken finished)
    {
        var idle = settings.Value.IdleTimeout;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(finished, lifetime.ApplicationStopping);
        var tick = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        using var timer = new PeriodicTimer(tick);
        (WebSocketCloseStatus Status, string Reason) close;
        try
        {
            while (true)
            {
                await timer.WaitForNextTickAsync(either.Token);
                if (connection.IdleFor() >= idle)
                {
                    close = (WebSocketCloseStatus.PolicyViolation, IdleReason);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!finished.IsCancellationRequested)
        {
            close = (WebSocketCloseStatus.EndpointUnavailable, "server stopping");
        }
        catch (OperationCanceledException)
        {
            return; // the connection ended first
        }

        if (!await connection.CloseOutputAsync(close.Status, close.Reason))
        {
            return;
        }

        try
        {
            await Task.Delay(CloseTimeout, finished);
            connection.Socket.Abort(); // no answering close: do not wait for it forever
        }
        catch (OperationCanceledException)
        {
            // The client answered (or vanished) in time.
        }
    }

    private static async Task SendAsync(Connection connection, SpeechEvent speech, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(speech, VadJsonContext.Default.SpeechEvent);
        await connection.SendAsync(json, cancellationToken);
    }

    private static async Task CloseAsync(Connection connection, WebSocketCloseStatus status, string reason)
    {
        var socket = connection.Socket;
        using var timeout = new CancellationTokenSource(CloseTimeout);
        if (socket.State == WebSocketState.CloseSent)
        {
            // The server's close is out: read until the client's answer, so the socket ends with a handshake and the
            // client reads the close rather than a reset.
            try
            {
                var buffer = new byte[1024];
                while ((await socket.ReceiveAsync(buffer.AsMemory(), timeout.Token)).MessageType != WebSocketMessageType.Close)
                {
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The client is gone or does not answer the close.
            }

            return;
        }

        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            await connection.Sending.WaitAsync(timeout.Token);
            try
            {
                await socket.CloseAsync(status, reason, timeout.Token);
            }
            finally
            {
                connection.Sending.Release();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client is gone or does not answer the close: nothing more to do.
        }
    }

    /// <summary>
    /// One connection: its socket, one send at a time (events from the receive loop, a close from the watchdog), when
    /// audio last came, and the close the server sent on its own, if any.
    /// </summary>
    private sealed class Connection(WebSocket socket)
    {
        private long _lastReceived = Stopwatch.GetTimestamp();
        private volatile Tuple<WebSocketCloseStatus, string>? _closedByServer;

        public WebSocket Socket { get; } = socket;

        public SemaphoreSlim Sending { get; } = new(1, 1);

        public (WebSocketCloseStatus Status, string Reason)? ClosedByServer =>
            _closedByServer is { } c ? (c.Item1, c.Item2) : null;

        public void Received() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

        public TimeSpan IdleFor() => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived));

        public async Task SendAsync(ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
        {
            await Sending.WaitAsync(cancellationToken);
            try
            {
                if (_closedByServer is null)
                {
                    await Socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                }
            }
            finally
            {
                Sending.Release();
            }
        }

        /// <summary>Sends the server's close (once); false when the socket can no longer take one.</summary>
        public async Task<bool> CloseOutputAsync(WebSocketCloseStatus status, string reason)
        {
            using var timeout = new CancellationTokenSource(CloseTimeout);
            try
            {
                await Sending.WaitAsync(timeout.Token);
                try
                {
                    if (Socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived) || _closedByServer is not null)
                    {
                        return false;
                    }

                    _closedByServer = Tuple.Create(status, reason);
                    await Socket.CloseOutputAsync(status, reason, timeout.Token);
                    return true;
                }
                finally
                {
                    Sending.Release();
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                return false;
            }
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "VAD stream {StreamId} opened")]
    private static partial void LogOpened(ILogger logger, string streamId);

    [LoggerMessage(2, LogLevel.Debug, "VAD stream {StreamId} closed after {Chunks} chunks: {Reason}")]
    private static partial void LogClosed(ILogger logger, string streamId, long chunks, string reason);

    // Debug: the library already warns (event 4001) when a stream is refused; one warning per refusal is enough.
    [LoggerMessage(3, LogLevel.Debug, "VAD connection refused: {MaxStreams} streams are open (Vad:MaxStreams)")]
    private static partial void LogRefused(ILogger logger, int maxStreams);

    [LoggerMessage(4, LogLevel.Warning, "VAD stream {StreamId} failed; the socket is closed with 1011")]
    private static partial void LogFailed(ILogger logger, Exception exception, string streamId);
}
