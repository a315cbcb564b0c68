namespace ModelInService;

/// <summary>
/// Serves a stateful streaming model (voice-activity detection, streaming recognizers, RNN decoders): each open
/// stream keeps its state between chunks, and the chunks of concurrent streams run together in one batch. Resolve it
/// from DI (keyed by the model name, or unkeyed when one streaming model has these types); register it with
/// <c>AddStreamingModel&lt;TChunk, TResult&gt;</c>. Thread-safe.
/// </summary>
/// <typeparam name="TChunk">One chunk of a stream; its members map to the model's non-state inputs.</typeparam>
/// <typeparam name="TResult">The answer for one chunk; its members map to the model's non-state outputs.</typeparam>
public interface IStreamPredictor<TChunk, TResult>
{
    /// <summary>Gets the registered model name.</summary>
    string ModelName { get; }

    /// <summary>Gets the number of streams open now.</summary>
    int OpenStreams { get; }

    /// <summary>
    /// Opens a stream with a fresh state (zeros or the declared initial value). Close it with
    /// <see cref="IAsyncDisposable.DisposeAsync"/> to free its place and state; an idle stream expires after
    /// <see cref="StreamingOptions.IdleTimeout"/>.
    /// </summary>
    /// <param name="streamId">The stream's id (a connection or session id), unique among open streams.</param>
    /// <returns>The stream.</returns>
    /// <exception cref="ArgumentException"><paramref name="streamId"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A stream with this id is already open.</exception>
    /// <exception cref="ModelStreamLimitException"><see cref="StreamingOptions.MaxStreams"/> streams are open.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded.</exception>
    IStreamSession<TChunk, TResult> OpenStream(string streamId);
}

/// <summary>
/// One open stream of a streaming model. Its chunks run one at a time, in the order <see cref="PredictAsync(TChunk, CancellationToken)"/>
/// was called; the state moves on only when a chunk succeeded (a failed, canceled or timed-out chunk leaves it as it
/// was). Dispose to close it.
/// </summary>
/// <typeparam name="TChunk">One chunk of the stream.</typeparam>
/// <typeparam name="TResult">The answer for one chunk.</typeparam>
public interface IStreamSession<TChunk, TResult> : IAsyncDisposable
{
    /// <summary>Gets the stream's id.</summary>
    string Id { get; }

    /// <summary>Gets whether the stream is open (not closed and not expired).</summary>
    bool IsOpen { get; }

    /// <summary>Gets the number of chunks answered so far.</summary>
    long ChunkCount { get; }

    /// <summary>Runs the stream's next chunk with its current state and moves the state on.</summary>
    /// <param name="chunk">The chunk.</param>
    /// <param name="cancellationToken">Cancels the chunk (its state is then unchanged).</param>
    /// <returns>The chunk's result.</returns>
    /// <exception cref="ModelStreamClosedException">The stream was closed or expired.</exception>
    /// <exception cref="ModelInputException">The chunk is invalid.</exception>
    /// <exception cref="ModelOverloadedException">The batcher's queue is full.</exception>
    /// <exception cref="ModelDeadlineExceededException">The chunk's deadline passed.</exception>
    ValueTask<TResult> PredictAsync(TChunk chunk, CancellationToken cancellationToken = default);

    /// <summary>Runs the stream's next chunk with its current state and moves the state on.</summary>
    /// <param name="chunk">The chunk.</param>
    /// <param name="options">The chunk's deadline and priority in the batcher; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the chunk (its state is then unchanged).</param>
    /// <returns>The chunk's result.</returns>
    /// <exception cref="ModelStreamClosedException">The stream was closed or expired.</exception>
    /// <exception cref="ModelInputException">The chunk is invalid.</exception>
    /// <exception cref="ModelOverloadedException">The batcher's queue is full.</exception>
    /// <exception cref="ModelDeadlineExceededException">The chunk's deadline passed.</exception>
    ValueTask<TResult> PredictAsync(TChunk chunk, PredictionOptions? options, CancellationToken cancellationToken = default);
}

/// <summary><see cref="StreamingOptions.MaxStreams"/> streams are open: no stream was opened.</summary>
public sealed class ModelStreamLimitException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="maxStreams">The bound that was reached.</param>
    public ModelStreamLimitException(string modelName, int maxStreams)
        : base(modelName, $"Model '{modelName}' has {maxStreams} streams open (StreamingOptions.MaxStreams); close a stream or raise the bound.")
    {
        MaxStreams = maxStreams;
    }

    /// <summary>Gets the bound that was reached.</summary>
    public int MaxStreams { get; }
}

/// <summary>A chunk was sent to a stream that was closed or expired: its state is gone; open a new stream.</summary>
public sealed class ModelStreamClosedException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="streamId">The stream's id.</param>
    /// <param name="expired">Whether the stream expired (idle too long) rather than being closed.</param>
    public ModelStreamClosedException(string modelName, string streamId, bool expired)
        : base(modelName, expired
            ? $"Stream '{streamId}' of model '{modelName}' expired after being idle longer than StreamingOptions.IdleTimeout; open a new stream."
            : $"Stream '{streamId}' of model '{modelName}' is closed; open a new stream.")
    {
        StreamId = streamId;
        Expired = expired;
    }

    /// <summary>Gets the stream's id.</summary>
    public string StreamId { get; }

    /// <summary>Gets whether the stream expired (rather than being closed by its owner).</summary>
    public bool Expired { get; }
}
