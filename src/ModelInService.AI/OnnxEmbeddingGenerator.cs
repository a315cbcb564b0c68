using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ModelInService.AI;

/// <summary>Receives every embedding the generator computes (the drift monitor).</summary>
internal interface IEmbeddingObserver
{
    /// <summary>Called once per text, on the caller's thread, after pooling and before normalization's result is returned.</summary>
    /// <param name="embedding">The final embedding (normalized when the options say so); not kept after the call.</param>
    /// <param name="norm">The pooled vector's length before normalization.</param>
    /// <param name="tokens">The real tokens, <c>[CLS]</c> and <c>[SEP]</c> included.</param>
    /// <param name="unknownTokens">How many were <c>[UNK]</c>.</param>
    void Observe(ReadOnlySpan<float> embedding, float norm, int tokens, int unknownTokens);

    /// <summary>Hands the events of windows completed by this call's texts to the handlers.</summary>
    ValueTask DeliverAsync(CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a registered ONNX encoder: tokenizes every text first
/// (so a bad text fails the call before anything runs), sends one prediction per text through the model's chain
/// (cache, batcher or session gate: whatever the registration added), then pools and normalizes each row.
/// Thread-safe.
/// </summary>
[DebuggerDisplay("Embedding model {_name}, {_dimensions} dimensions")]
internal sealed class OnnxEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The registered model name: the DI key and the embeddings' model id.</summary>
    private readonly string _name;

    /// <summary>The model's typed chain (stages per the registration).</summary>
    private readonly IPredictor<BertInput, BertOutput> _predictor;

    /// <summary>Tokenization per the options.</summary>
    private readonly TextTokenizer _tokenizer;

    /// <summary>Pooling over the token vectors.</summary>
    private readonly EmbeddingPooling _pooling;

    /// <summary>Whether embeddings are scaled to unit length.</summary>
    private readonly bool _normalize;

    /// <summary>The embedding length (the model's last output dimension).</summary>
    private readonly int _dimensions;

    /// <summary>Stamps <see cref="Embedding.CreatedAt"/>.</summary>
    private readonly TimeProvider _time;

    /// <summary>The drift monitor, or null when the model is not monitored.</summary>
    private readonly IEmbeddingObserver? _observer;

    /// <summary>Debug-level notes (truncation).</summary>
    private readonly ILogger _logger;

    /// <summary>Returned by <see cref="GetService"/> for <see cref="EmbeddingGeneratorMetadata"/>.</summary>
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>The most texts of one call in flight at once (see <see cref="GenerateAsync"/>).</summary>
    private readonly int _window;

    public OnnxEmbeddingGenerator(string name, IPredictor<BertInput, BertOutput> predictor, TextTokenizer tokenizer, EmbeddingModelOptions options, int dimensions, TimeProvider time, IEmbeddingObserver? observer, ILogger logger, int window)
    {
        _window = Math.Max(1, window);
        _name = name;
        _predictor = predictor;
        _tokenizer = tokenizer;
        _pooling = options.Pooling;
        _normalize = options.Normalize;
        _dimensions = dimensions;
        _time = time;
        _observer = observer;
        _logger = logger;
        _metadata = new EmbeddingGeneratorMetadata("ModelInService", null, name, dimensions);
    }

    /// <summary>
    /// Runs the longest row the options let through: a <c>MaxTokens</c> beyond the model's positions (513 for a BERT of
    /// 512) passed validation and failed every long text at run time with ONNX Runtime's broadcast error.
    /// </summary>
    /// <exception cref="ModelLoadException">The model refuses a row of <c>MaxTokens</c> tokens.</exception>
    internal async Task CheckLongestRowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _predictor.PredictAsync(_tokenizer.LongestRow(), cancellationToken).ConfigureAwait(false);
        }
        catch (ModelInferenceException ex)
        {
            throw new ModelLoadException(_name, $"Embedding model '{_name}': EmbeddingModelOptions.MaxTokens is {_tokenizer.MaxTokens}, but the model refuses a row of that many tokens (BERT models take at most their number of positions, usually 512): {ex.Message}", ex);
        }
    }

    /// <summary>Gets the tokenizer (tests compare its ids with a reference).</summary>
    internal TextTokenizer Tokenizer => _tokenizer;

    /// <inheritdoc />
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is { } requested && requested != _dimensions)
        {
            throw new NotSupportedException($"Embedding model '{_name}' produces {_dimensions} dimensions; EmbeddingGenerationOptions.Dimensions asks for {requested}. Leave Dimensions unset or set it to {_dimensions}.");
        }

        var texts = values as IReadOnlyList<string> ?? new List<string>(values);
        var count = texts.Count;
        for (var i = 0; i < count; i++)
        {
            _ = texts[i] ?? throw new ArgumentException($"Text {i} is null. Embedding model '{_name}' embeds strings; an empty string is allowed (it embeds [CLS] [SEP]), null is not.", nameof(values));
        }

        // At most _window texts in flight: with UseBatching they reach the batcher together and run as batches (the
        // window keeps several batches queued), without it each takes the session gate in turn. A text is tokenized
        // when it enters the window and pooled as soon as its output arrives: a call of 100,000 texts neither
        // overflows the batching queue (it failed with ModelOverloadedException past MaxQueueSize) nor holds every
        // text's [sequence x dimension] hidden state until the last one is done (4,000 long texts took 1.6 GB).
        var window = Math.Min(count, _window);
        var pending = new Task<BertOutput>?[window];
        var lengths = new int[window];
        var unknown = new int[window];
        var vectors = new float[count][];
        long tokenTotal = 0;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var next = 0;
        try
        {
            for (; next < window; next++)
            {
                Submit(next);
            }

            for (var i = 0; i < count; i++)
            {
                var slot = i % window;
                var output = await pending[slot]!.ConfigureAwait(false);
                pending[slot] = null;
                var vector = new float[_dimensions];
                Pooling.Pool(output.LastHiddenState, lengths[slot], _pooling, vector);
                var norm = Pooling.Normalize(vector, _normalize);
                _observer?.Observe(vector, norm, lengths[slot], unknown[slot]);
                vectors[i] = vector;
                if (next < count)
                {
                    Submit(next++); // into the slot just freed: next == i + window
                }
            }
        }
        catch
        {
            // The first failure in text order ends the call: the texts still in flight are canceled and awaited (their
            // failures are the cancellation's), so nothing runs on for a call that has already failed.
            await linked.CancelAsync().ConfigureAwait(false);
            foreach (var task in pending)
            {
                if (task is not null)
                {
                    await task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                }
            }

            throw;
        }

        var created = _time.GetUtcNow();
        var result = new GeneratedEmbeddings<Embedding<float>>(count)
        {
            Usage = new UsageDetails { InputTokenCount = tokenTotal, TotalTokenCount = tokenTotal },
        };
        for (var i = 0; i < count; i++)
        {
            result.Add(new Embedding<float>(vectors[i]) { ModelId = _name, CreatedAt = created });
        }

        if (_observer is not null)
        {
            await _observer.DeliverAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;

        void Submit(int i)
        {
            var row = _tokenizer.Tokenize(texts[i], i);
            tokenTotal += row.Length;
            if (row.Truncated)
            {
                EmbeddingLog.Truncated(_logger, _name, i, row.Length);
            }

            var slot = i % window;
            lengths[slot] = row.Length;
            unknown[slot] = row.UnknownTokens;
            pending[slot] = _predictor.PredictAsync(row.Input, linked.Token).AsTask();
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        return serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Nothing to release: the model belongs to the container.</summary>
    public void Dispose()
    {
    }
}
