using System.Text.Json.Serialization;
using ModelInService;

namespace StreamingVad;

/// <summary>One 32 ms chunk of 16 kHz mono audio: 512 samples in [-1, 1]. The library prepends the stream's previous 64 samples, like Silero's own wrapper.</summary>
public sealed class VadChunk
{
    /// <summary>The number of samples in a chunk at 16 kHz.</summary>
    public const int Samples16k = 512;

    /// <summary>Gets or sets the chunk's samples.</summary>
    [ModelInput("input")]
    public float[] Samples { get; set; } = [];
}

/// <summary>The model's answer for one chunk.</summary>
public sealed class VadResult
{
    /// <summary>Gets or sets the probability that the chunk is speech.</summary>
    [ModelOutput("output")]
    public float Probability { get; set; }
}

/// <summary>A message sent to the client: <c>{"event":"start","timeMs":1230}</c> or <c>{"event":"end","timeMs":2450}</c>, times from the stream's first sample.</summary>
/// <param name="Event">"start" or "end".</param>
/// <param name="TimeMs">The event's time in milliseconds from the stream's first sample.</param>
public sealed record SpeechEvent(
    [property: JsonPropertyName("event")] string Event,
    [property: JsonPropertyName("timeMs")] long TimeMs);

/// <summary>Source-generated JSON for the messages.</summary>
[JsonSerializable(typeof(SpeechEvent))]
internal sealed partial class VadJsonContext : JsonSerializerContext;
