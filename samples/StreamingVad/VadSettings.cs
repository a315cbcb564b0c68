namespace StreamingVad;

/// <summary>The "Vad" section of appsettings.json (or <c>--Vad:ModelPath ...</c> on the command line).</summary>
public sealed class VadSettings
{
    /// <summary>Gets or sets the Silero VAD v5 model; a relative path is resolved against the content root (the directory the app is started from), then the app's directory.</summary>
    public string ModelPath { get; set; } = "models/silero_vad.onnx";

    /// <summary>Gets or sets the speech probability at or above which a chunk is speech (Silero's default 0.5).</summary>
    public float Threshold { get; set; } = 0.5f;

    /// <summary>Gets or sets how long the probability must stay below <c>Threshold - 0.15</c> before speech ends.</summary>
    public int MinSilenceDurationMs { get; set; } = 100;

    /// <summary>Gets or sets the padding added before a start and after an end.</summary>
    public int SpeechPadMs { get; set; } = 30;

    /// <summary>Gets or sets the number of WebSocket connections (streams) served at once; more are closed with 1013 (try again later).</summary>
    public int MaxStreams { get; set; } = 1024;

    /// <summary>
    /// Gets or sets how long a connection may send no audio before its stream expires and the server closes it with
    /// 1008 (the streaming model's <c>IdleTimeout</c>; an idle connection must not keep a place, nor a socket, forever).
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
