using System.Net;
using System.Net.WebSockets;
using ModelInService.TestUtilities;
using static StreamingVad.Tests.SyntheticAudio;

namespace StreamingVad.Tests;

/// <summary>One app for the tests of this class (a second one where the stream bound matters).</summary>
public sealed class VadServerFixture : IAsyncLifetime
{
    public VadServer? Server { get; private set; }

    public Task InitializeAsync()
    {
        if (SharedData.IsAvailable)
        {
            Server = VadServer.Start();
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

/// <summary>
/// The /vad endpoint driven through a real ClientWebSocket. What Silero VAD v5 says for each synthetic signal was
/// measured first (chunk by chunk through a direct InferenceSession with the state and context fed back, as the
/// sample's README lists): silence max 0.012; sine bursts of 440 / 1000 Hz max 0.126 / 0.109; white noise of RMS 0.05 /
/// 0.1 max 0.040 / 0.339; the voiced signal (glottal pulses ~120 Hz through moving vowel formants, 4 syllables/s)
/// 0.96-1.00 from its second chunk. The assertions below are what those numbers imply through Silero's VADIterator logic.
/// </summary>
public sealed class VadEndpointTests(VadServerFixture fixture) : IClassFixture<VadServerFixture>
{
    private VadServer Server
    {
        get
        {
            Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
            return fixture.Server!;
        }
    }

    [SkippableFact]
    public async Task Silence_GivesNoEvents_AndANormalClose()
    {
        var session = await Server.StreamAsync(ToPcm16(Silence(3)));

        Assert.Empty(session.Messages);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.CloseStatus);
    }

    [SkippableTheory]
    [InlineData(440)]
    [InlineData(1000)]
    public async Task PureToneBursts_GiveNoEvents(double frequency)
    {
        var session = await Server.StreamAsync(ToPcm16(Concat(Silence(0.5), ToneBursts(4, frequency))));

        Assert.Empty(session.Messages);
    }

    [SkippableTheory]
    [InlineData(0.05, 1)]
    [InlineData(0.1, 2)]
    public async Task WhiteNoise_GivesNoEvents(double rms, int seed)
    {
        var session = await Server.StreamAsync(ToPcm16(Concat(Silence(0.5), WhiteNoise(4, rms, seed))));

        Assert.Empty(session.Messages);
    }

    [SkippableFact]
    public async Task VoicedSignal_StartsNearItsOnset_AndEndsAfterIt()
    {
        // 1 s of silence, 2 s of the voiced signal (1,000-3,000 ms), 1.5 s of silence.
        var session = await Server.StreamAsync(ToPcm16(Concat(Silence(1), Voiced(2, 1), Silence(1.5))));

        Assert.Equal(2, session.Events.Count);
        var (start, end) = (session.Events[0], session.Events[1]);
        Assert.Equal("start", start.Event);
        Assert.InRange(start.TimeMs, 900, 1100);
        Assert.Equal("end", end.Event);
        Assert.InRange(end.TimeMs, 3000, 3300);
        Assert.Matches("""^\{"event":"start","timeMs":\d+\}$""", session.Messages[0]);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.CloseStatus);
    }

    [SkippableFact]
    public async Task OneLongStream_OfSilenceTonesNoiseAndTwoUtterances_GivesTwoSpeechSegments()
    {
        // Onsets: the utterances at 6.0-8.0 s and 11.5-13.0 s.
        var signal = Concat(
            Silence(1), ToneBursts(2, 440), Silence(0.5), WhiteNoise(2, 0.1, 5), Silence(0.5),
            Voiced(2, 2), Silence(1), ToneBursts(2, 1000), Silence(0.5), Voiced(1.5, 3), Silence(1.5));

        var session = await Server.StreamAsync(ToPcm16(signal));

        Assert.Equal(["start", "end", "start", "end"], session.Events.Select(e => e.Event));
        Assert.InRange(session.Events[0].TimeMs, 5850, 6150);
        Assert.InRange(session.Events[1].TimeMs, 8000, 8400);
        Assert.InRange(session.Events[2].TimeMs, 11350, 11650);
        Assert.InRange(session.Events[3].TimeMs, 13000, 13400);
    }

    [SkippableFact]
    public async Task FramesOfAnyLength_EvenOddByteCounts_GiveTheSameEvents()
    {
        var pcm = ToPcm16(Concat(Silence(1), Voiced(2, 1), Silence(1.5)));

        var whole = await Server.StreamAsync(pcm, frameBytes: 1024);
        var odd = await Server.StreamAsync(pcm, frameBytes: 333);
        var large = await Server.StreamAsync(pcm, frameBytes: 48_001);

        Assert.Equal(2, whole.Events.Count);
        Assert.Equal(whole.Messages, odd.Messages);
        Assert.Equal(whole.Messages, large.Messages);
    }

    [SkippableFact]
    public async Task ClosingDuringSpeech_SendsAnEndAtTheLastFullChunk()
    {
        // 1 s of silence, then speech until the client closes at 2 s: 62 full chunks (1,984 ms), the rest dropped.
        var session = await Server.StreamAsync(ToPcm16(Concat(Silence(1), Voiced(1, 1))));

        Assert.Equal(["start", "end"], session.Events.Select(e => e.Event));
        Assert.Equal(62 * 512 * 1000 / SampleRate, session.Events[1].TimeMs);
    }

    [SkippableFact]
    public async Task ATextMessage_ClosesTheSocketWith1003()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(Server.VadUri, timeout.Token);

        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var messages = await VadServer.ReceiveAsync(socket, timeout.Token);

        Assert.Empty(messages);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, socket.CloseStatus);
        Assert.Contains("binary", socket.CloseStatusDescription, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task APlainHttpRequest_IsA400()
    {
        using var client = new HttpClient { BaseAddress = Server.Address };

        var response = await client.GetAsync(new Uri("/vad", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("WebSocket", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

/// <summary>The bound on open streams (Vad:MaxStreams) as a WebSocket close.</summary>
public sealed class VadStreamLimitTests
{
    [SkippableFact]
    public async Task BeyondMaxStreams_TheConnectionIsClosedWith1013_AndClosingOneFreesAPlace()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var server = VadServer.Start(maxStreams: 1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var first = new ClientWebSocket();
        await first.ConnectAsync(server.VadUri, timeout.Token);
        await server.WaitForOpenStreamsAsync(1);

        using var second = new ClientWebSocket();
        await second.ConnectAsync(server.VadUri, timeout.Token);
        var refused = await VadServer.ReceiveAsync(second, timeout.Token);

        Assert.Empty(refused);
        Assert.Equal(VadSocketHandler.TryAgainLater, second.CloseStatus);
        Assert.Equal(1013, (int)second.CloseStatus!.Value);
        Assert.Contains("stream limit", second.CloseStatusDescription, StringComparison.Ordinal);

        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        await server.WaitForOpenStreamsAsync(0);
        var third = await server.StreamAsync(ToPcm16(Concat(Silence(1), Voiced(2, 1), Silence(1.5))));
        Assert.Equal(2, third.Events.Count);
    }
}

/// <summary>The server's own closes: a silent client after the idle timeout, every client when the host stops.</summary>
public sealed class VadServerCloseTests
{
    [SkippableFact]
    public async Task ASilentClient_IsClosedWith1008_AndItsPlaceAndSocketAreFreed()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var server = VadServer.Start(maxStreams: 1, idleTimeout: TimeSpan.FromSeconds(1));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var silent = new ClientWebSocket();
        await silent.ConnectAsync(server.VadUri, timeout.Token);

        // Nothing sent: the server closes it (before, the socket stayed open forever while its place was reused).
        var messages = await VadServer.ReceiveAsync(silent, timeout.Token);
        await silent.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token); // a client answers a close

        Assert.Empty(messages);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, silent.CloseStatus);
        Assert.Equal("idle too long: stream expired", silent.CloseStatusDescription);
        await server.WaitForOpenStreamsAsync(0);
        var next = await server.StreamAsync(ToPcm16(Concat(Silence(0.5), Voiced(1, 1), Silence(0.5))));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, next.CloseStatus);
    }

    [SkippableFact]
    public async Task WhenTheHostStops_ClientsGet1001_NotAReset()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var server = VadServer.Start(maxStreams: 4);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new ClientWebSocket();
        await client.ConnectAsync(server.VadUri, timeout.Token);
        var pcm = ToPcm16(Silence(1));
        await client.SendAsync(pcm, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        await server.WaitForOpenStreamsAsync(1);
        var receiving = VadServer.ReceiveAsync(client, timeout.Token);

        var stopping = server.DisposeAsync().AsTask();
        await receiving;
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        Assert.Equal("server stopping", client.CloseStatusDescription);
        await stopping;
    }
}
