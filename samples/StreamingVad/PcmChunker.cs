namespace StreamingVad;

/// <summary>
/// Re-chunks a stream of 16-bit little-endian PCM bytes, received in frames of any length (even an odd number of
/// bytes), into chunks of <see cref="VadChunk.Samples16k"/> float samples in [-1, 1). Not thread-safe (one per connection).
/// </summary>
public sealed class PcmChunker
{
    private readonly int _chunkSamples;

    /// <summary>The chunk being filled.</summary>
    private float[] _chunk;

    /// <summary>Samples in <see cref="_chunk"/>.</summary>
    private int _filled;

    /// <summary>The low byte of a sample split across two frames, or -1.</summary>
    private int _low = -1;

    /// <summary>Initializes a chunker.</summary>
    /// <param name="chunkSamples">Samples per chunk.</param>
    public PcmChunker(int chunkSamples = VadChunk.Samples16k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSamples);
        _chunkSamples = chunkSamples;
        _chunk = new float[chunkSamples];
    }

    /// <summary>Gets the samples waiting for a full chunk (dropped when the stream ends).</summary>
    public int Pending => _filled;

    /// <summary>Appends received bytes; every chunk they complete is added to <paramref name="completed"/>.</summary>
    /// <param name="bytes">The bytes, continuing the previous frame's.</param>
    /// <param name="completed">Receives the completed chunks, in order.</param>
    public void Append(ReadOnlySpan<byte> bytes, List<float[]> completed)
    {
        ArgumentNullException.ThrowIfNull(completed);
        if (_low >= 0 && !bytes.IsEmpty)
        {
            Add((short)(_low | (bytes[0] << 8)), completed);
            bytes = bytes[1..];
            _low = -1;
        }

        var pairs = bytes.Length / 2;
        for (var i = 0; i < pairs; i++)
        {
            Add((short)(bytes[2 * i] | (bytes[(2 * i) + 1] << 8)), completed);
        }

        if ((bytes.Length & 1) != 0)
        {
            _low = bytes[^1];
        }
    }

    private void Add(short sample, List<float[]> completed)
    {
        _chunk[_filled++] = sample / 32768f;
        if (_filled == _chunkSamples)
        {
            completed.Add(_chunk);
            _chunk = new float[_chunkSamples];
            _filled = 0;
        }
    }
}
