namespace ModelInService;

/// <summary>
/// How a streaming model keeps each stream's state and batches the chunks of concurrent streams (named options; the
/// name is the model name). Validated at start-up; the declarations are checked against the model's signature when it
/// loads. See docs/streaming.md.
/// </summary>
/// <remarks>Configure before the host starts.</remarks>
public sealed class StreamingOptions
{
    /// <summary>Gets the declared state tensors: each output fed back into an input on the stream's next chunk.</summary>
    /// <remarks>
    /// Empty (the default) means "find them from the signature" when <see cref="DetectStates"/> is on: an output named
    /// like an input plus <c>N</c>, <c>n</c>, <c>_out</c> or <c>_next</c> (or <c>present*</c> for <c>past*</c>) with a
    /// compatible shape.
    /// </remarks>
    public IList<StreamStateBinding> States { get; } = new List<StreamStateBinding>();

    /// <summary>Gets or sets whether state pairs are found from the signature when <see cref="States"/> is empty.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool DetectStates { get; set; } = true;

    /// <summary>
    /// Gets or sets the input that carries the stream's audio (or any sequence) chunk and gets the stream's previous
    /// <see cref="ContextLength"/> values prepended before each run, as Silero VAD's own wrapper does (64 samples at
    /// 16 kHz). The chunk the caller passes is then only the new samples (512 for Silero); the model sees
    /// <c>[N, ContextLength + 512]</c>. The context starts as zeros and is part of the stream's state.
    /// </summary>
    /// <value>Default <see langword="null"/>: no context.</value>
    public string? ContextInput { get; set; }

    /// <summary>Gets or sets how many trailing values of each run's <see cref="ContextInput"/> row are kept for the next chunk.</summary>
    /// <value>Default 0.</value>
    public int ContextLength { get; set; }

    /// <summary>
    /// Gets the inputs fed the same value on every run (a scalar without a batch axis, such as Silero's <c>sr</c>):
    /// a <see cref="long"/>, <see cref="int"/>, <see cref="float"/> or <see cref="double"/>, converted to the input's
    /// element type.
    /// </summary>
    public IDictionary<string, object> Constants { get; } = new Dictionary<string, object>(StringComparer.Ordinal);

    /// <summary>Gets or sets the most streams open at once; <c>OpenStream</c> beyond it throws <see cref="ModelStreamLimitException"/>.</summary>
    /// <value>Default 1024.</value>
    public int MaxStreams { get; set; } = 1024;

    /// <summary>
    /// Gets or sets how long a stream may stay without a chunk before it is closed and its state freed; its next chunk
    /// then fails with <see cref="ModelStreamClosedException"/>. <see cref="Timeout.InfiniteTimeSpan"/> disables expiry.
    /// </summary>
    /// <value>Default 2 minutes.</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Gets or sets whether chunks of different streams that arrive together run as one batch (sequence batching,
    /// configured by <see cref="Batching"/>). Off, every chunk is its own run on the caller's thread.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool SequenceBatching { get; set; } = true;

    /// <summary>
    /// Gets the batcher's options for sequence batching: <see cref="BatchingOptions.MaxBatchSize"/>,
    /// <see cref="BatchingOptions.MaxDelay"/>, the queue bound, deadlines and priorities apply per chunk.
    /// </summary>
    /// <value>Defaults as <see cref="BatchingOptions"/>, with <see cref="BatchingOptions.MaxBatchSize"/> 64.</value>
    public BatchingOptions Batching { get; } = new() { MaxBatchSize = 64 };

    /// <summary>Declares a state: <paramref name="output"/> of one chunk's run is fed to <paramref name="input"/> on the stream's next chunk.</summary>
    /// <param name="input">The state input, e.g. <c>state</c>.</param>
    /// <param name="output">The output holding the next state, e.g. <c>stateN</c>.</param>
    /// <param name="batchAxis">The axis the streams are stacked on (1 for Silero's <c>[2,N,128]</c>); -1 finds the one free dimension.</param>
    /// <param name="initialize">Fills a new stream's state (the tensor without its batch axis, row-major), given the stream id; null for zeros.</param>
    /// <returns>These options.</returns>
    public StreamingOptions AddState(string input, string output, int batchAxis = -1, StreamStateInitializer? initialize = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(input);
        ArgumentException.ThrowIfNullOrEmpty(output);
        States.Add(new StreamStateBinding(input, output, batchAxis, initialize));
        return this;
    }
}

/// <summary>One state tensor of a streaming model: the output fed back to the input on the stream's next chunk.</summary>
/// <param name="Input">The state input.</param>
/// <param name="Output">The output that holds the next state.</param>
/// <param name="BatchAxis">The axis streams are stacked on; -1 finds the one free dimension of the input.</param>
/// <param name="Initialize">Fills a new stream's state (without its batch axis, row-major) given the stream id; null for zeros.</param>
public sealed record StreamStateBinding(string Input, string Output, int BatchAxis = -1, StreamStateInitializer? Initialize = null);

/// <summary>Fills a new stream's state: the state tensor without its batch axis, row-major (zeros when no initializer is given).</summary>
/// <param name="streamId">The id the stream is opened with.</param>
/// <param name="state">The stream's state, zeroed.</param>
public delegate void StreamStateInitializer(string streamId, Span<float> state);
