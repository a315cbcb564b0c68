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

    public OnnxEmbeddingGenerator(string name, IPredictor<BertInput, BertOutput> predictor, TextTokenizer tokenizer, EmbeddingModelOptions options, int dimensions, TimeProvider time, IEmbeddingObserver? observer, ILogger logger)
    {
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
        var rows = new TokenizedText[count];
        long tokenTotal = 0;
        for (var i = 0; i < count; i++)
        {
            var text = texts[i] ?? throw new ArgumentException($"Text {i} is null. Embedding model '{_name}' embeds strings; an empty string is allowed (it embeds [CLS] [SEP]), null is not.", nameof(values));
            rows[i] = _tokenizer.Tokenize(text, i);
            tokenTotal += rows[i].Length;
            if (rows[i].Truncated)
            {
                EmbeddingLog.Truncated(_logger, _name, i, rows[i].Length);
            }
        }

        // Every text is in flight before the first is awaited: with UseBatching they reach the batcher together and run
        // as batches; without it each takes the session gate in turn.
        var pending = new Task<BertOutput>[count];
        for (var i = 0; i < count; i++)
        {
            pending[i] = _predictor.PredictAsync(rows[i].Input, cancellationToken).AsTask();
        }

        try
        {
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
        catch when (count > 1)
        {
            // Task.WhenAll keeps only the first exception when awaited; rethrow the first text's failure in order.
            for (var i = 0; i < count; i++)
            {
                if (pending[i].IsFaulted || pending[i].IsCanceled)
                {
                    await pending[i].ConfigureAwait(false);
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
            var vector = new float[_dimensions];
            var hidden = pending[i].Result.LastHiddenState;
            Pooling.Pool(hidden, rows[i].Length, _pooling, vector);
            var norm = Pooling.Normalize(vector, _normalize);
            _observer?.Observe(vector, norm, rows[i].Length, rows[i].UnknownTokens);
            result.Add(new Embedding<float>(vector) { ModelId = _name, CreatedAt = created });
        }

        if (_observer is not null)
        {
            await _observer.DeliverAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;
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
