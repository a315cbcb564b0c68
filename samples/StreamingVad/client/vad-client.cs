// A command-line client for the /vad endpoint, as a .NET 10 file-based app (not part of the web app's build):
//
//   dotnet run samples/StreamingVad/client/vad-client.cs -- speech.wav [ws://localhost:5083/vad] [--fast]
//
// Sends a 16 kHz mono 16-bit WAV file (or raw PCM: int16 little-endian) in 20 ms binary messages, at real-time pace
// unless --fast, and prints the events the server sends back. Convert other audio with
//   ffmpeg -i input.mp3 -ac 1 -ar 16000 -sample_fmt s16 speech.wav
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

var files = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
if (files.Length == 0)
{
    Console.Error.WriteLine("usage: vad-client <speech.wav|speech.pcm> [ws://localhost:5083/vad] [--fast]");
    return 2;
}

var pcm = Pcm16k(File.ReadAllBytes(files[0]));
var uri = new Uri(files.Length > 1 ? files[1] : "ws://localhost:5083/vad");
var realTime = !args.Contains("--fast");

using var socket = new ClientWebSocket();
await socket.ConnectAsync(uri, CancellationToken.None);
var receiving = Task.Run(async () =>
{
    var buffer = new byte[4096];
    while (true)
    {
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        if (received.MessageType == WebSocketMessageType.Close)
        {
            return;
        }

        Console.WriteLine(Encoding.UTF8.GetString(buffer, 0, received.Count)); // one small JSON message per event
    }
});

const int FrameBytes = 16000 * 2 / 50; // 20 ms
for (var offset = 0; offset < pcm.Length && socket.State == WebSocketState.Open; offset += FrameBytes)
{
    await socket.SendAsync(pcm.AsMemory(offset, Math.Min(FrameBytes, pcm.Length - offset)), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
    if (realTime)
    {
        await Task.Delay(20);
    }
}

if (socket.State == WebSocketState.Open)
{
    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
}

await receiving;
Console.WriteLine($"closed: {(int?)socket.CloseStatus} {socket.CloseStatusDescription}");
return 0;

// The samples of a 16 kHz mono 16-bit PCM WAV file; any other file is taken as raw PCM.
static byte[] Pcm16k(byte[] file)
{
    if (file.Length < 12 || Encoding.ASCII.GetString(file, 0, 4) != "RIFF" || Encoding.ASCII.GetString(file, 8, 4) != "WAVE")
    {
        return file;
    }

    for (var at = 12; at + 8 <= file.Length;)
    {
        var id = Encoding.ASCII.GetString(file, at, 4);
        var size = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + 4));
        if (id == "fmt ")
        {
            var format = file.AsSpan(at + 8);
            var (tag, channels, rate, bits) = (BinaryPrimitives.ReadInt16LittleEndian(format), BinaryPrimitives.ReadInt16LittleEndian(format[2..]),
                BinaryPrimitives.ReadInt32LittleEndian(format[4..]), BinaryPrimitives.ReadInt16LittleEndian(format[14..]));
            if (tag != 1 || channels != 1 || rate != 16000 || bits != 16)
            {
                throw new InvalidDataException($"need 16 kHz mono 16-bit PCM, got format {tag}, {channels} channel(s), {rate} Hz, {bits} bits: convert with ffmpeg -i in.wav -ac 1 -ar 16000 -sample_fmt s16 out.wav");
            }
        }
        else if (id == "data")
        {
            return file.AsSpan(at + 8, Math.Min(size, file.Length - at - 8)).ToArray();
        }

        at += 8 + size + (size & 1);
    }

    throw new InvalidDataException("no data chunk in the WAV file");
}
