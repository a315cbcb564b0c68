namespace StreamingVad;

/// <summary>
/// Turns one stream's speech probabilities into start and end events, as Silero's own <c>VADIterator</c>
/// (silero-vad, src/silero_vad/utils_vad.py) does: speech starts at the first chunk at or above the threshold and ends
/// once the probability has stayed below <c>threshold - 0.15</c> for the minimum silence; both are padded. Not thread-safe
/// (one per connection).
/// </summary>
public sealed class SpeechDetector
{
    private const int SampleRate = 16000;
    private readonly float _threshold;
    private readonly float _negativeThreshold;
    private readonly long _minSilenceSamples;
    private readonly long _padSamples;

    /// <summary>Whether speech is going on.</summary>
    private bool _triggered;

    /// <summary>The sample where the current silence began (0: none), as VADIterator's temp_end.</summary>
    private long _silenceStart;

    /// <summary>Samples seen so far, the current chunk included.</summary>
    private long _current;

    /// <summary>Initializes a detector.</summary>
    /// <param name="settings">The threshold, minimum silence and padding.</param>
    public SpeechDetector(VadSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _threshold = settings.Threshold;
        _negativeThreshold = settings.Threshold - 0.15f;
        _minSilenceSamples = (long)settings.MinSilenceDurationMs * SampleRate / 1000;
        _padSamples = (long)settings.SpeechPadMs * SampleRate / 1000;
    }

    /// <summary>Gets whether speech is going on.</summary>
    public bool InSpeech => _triggered;

    /// <summary>Takes the next chunk's probability.</summary>
    /// <param name="probability">The chunk's speech probability.</param>
    /// <param name="chunkSamples">The chunk's length in samples.</param>
    /// <returns>A start or end event, or null.</returns>
    public SpeechEvent? Process(float probability, int chunkSamples = VadChunk.Samples16k)
    {
        _current += chunkSamples;
        if (probability >= _threshold && _silenceStart != 0)
        {
            _silenceStart = 0;
        }

        if (probability >= _threshold && !_triggered)
        {
            _triggered = true;
            return new SpeechEvent("start", ToMs(Math.Max(0, _current - _padSamples - chunkSamples)));
        }

        if (probability < _negativeThreshold && _triggered)
        {
            if (_silenceStart == 0)
            {
                _silenceStart = _current;
            }

            if (_current - _silenceStart < _minSilenceSamples)
            {
                return null;
            }

            var end = _silenceStart + _padSamples - chunkSamples;
            _silenceStart = 0;
            _triggered = false;
            return new SpeechEvent("end", ToMs(end));
        }

        return null;
    }

    /// <summary>Ends speech that is still going on when the stream ends.</summary>
    /// <returns>An end event at the stream's last sample, or null when there is no speech.</returns>
    public SpeechEvent? Finish()
    {
        if (!_triggered)
        {
            return null;
        }

        _triggered = false;
        _silenceStart = 0;
        return new SpeechEvent("end", ToMs(_current));
    }

    private static long ToMs(long samples) => samples * 1000 / SampleRate;
}
