using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ModelInService;
using ModelInService.TestUtilities;

namespace StreamingVad.Tests;

/// <summary>The sample app on Kestrel on a free loopback port, with the model from ../shared.</summary>
public sealed class VadServer : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;

    private VadServer(WebApplicationFactory<Program> factory, Uri address)
    {
        _factory = factory;
        Address = address;
    }

    public static string ModelPath => SharedData.Model("audio", "silero_vad_v5.onnx");

    /// <summary>The WebSocket endpoint, ws://127.0.0.1:port/vad.</summary>
    public Uri VadUri => new(new Uri(Address.ToString().Replace("http://", "ws://", StringComparison.Ordinal)), "/vad");

    public Uri Address { get; }

    public IServiceProvider Services => _factory.Services;

    public static VadServer Start(int maxStreams = 16, TimeSpan? idleTimeout = null)
    {
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Vad:ModelPath", ModelPath);
            b.UseSetting("Vad:MaxStreams", maxStreams.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (idleTimeout is { } idle)
            {
                b.UseSetting("Vad:IdleTimeout", idle.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
            }
        });
        factory.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new VadServer(factory, new Uri(address));
    }

    /// <summary>Waits until the app has <paramref name="count"/> streams open.</summary>
    public async Task WaitForOpenStreamsAsync(int count)
    {
        var vad = Services.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (vad.OpenStreams != count)
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    /// <summary>
    /// Connects, sends <paramref name="pcm"/> in binary frames of <paramref name="frameBytes"/> bytes as fast as the
    /// server takes them, closes, and collects the events until the server's close.
    /// </summary>
    public async Task<VadSession> StreamAsync(byte[] pcm, int frameBytes = 3200)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(VadUri, timeout.Token);
        var receiving = ReceiveAsync(socket, timeout.Token);
        for (var offset = 0; offset < pcm.Length; offset += frameBytes)
        {
            await socket.SendAsync(pcm.AsMemory(offset, Math.Min(frameBytes, pcm.Length - offset)), WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        }

        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        var messages = await receiving;
        return new VadSession(messages, socket.CloseStatus, socket.CloseStatusDescription);
    }

    /// <summary>Collects the text messages until the server closes.</summary>
    public static async Task<List<string>> ReceiveAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var messages = new List<string>();
        var buffer = new byte[4096];
        using var message = new MemoryStream();
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return messages;
            }

            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                messages.Add(System.Text.Encoding.UTF8.GetString(message.ToArray()));
                message.SetLength(0);
            }
        }
    }

    public async ValueTask DisposeAsync() => await _factory.DisposeAsync();
}

/// <summary>What a connection received: the raw JSON messages, parsed events and the server's close.</summary>
public sealed record VadSession(IReadOnlyList<string> Messages, WebSocketCloseStatus? CloseStatus, string? CloseReason)
{
    public IReadOnlyList<(string Event, long TimeMs)> Events { get; } = [.. Messages.Select(Parse)];

    private static (string, long) Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return (document.RootElement.GetProperty("event").GetString()!, document.RootElement.GetProperty("timeMs").GetInt64());
    }

    public override string ToString() => string.Join(", ", Messages) + $" / close {CloseStatus} '{CloseReason}'";
}
