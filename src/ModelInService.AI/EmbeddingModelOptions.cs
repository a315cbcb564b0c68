namespace ModelInService.AI;

/// <summary>How the token vectors of a text are reduced to one embedding.</summary>
public enum EmbeddingPooling
{
    /// <summary>The mean of the token vectors under the attention mask (sentence-transformers' default; all-MiniLM-L6-v2).</summary>
    Mean,

    /// <summary>The vector of the first token, <c>[CLS]</c> (Snowflake arctic-embed, BGE).</summary>
    Cls,
}

/// <summary>What happens to a text whose tokens do not fit in <see cref="EmbeddingModelOptions.MaxTokens"/>.</summary>
public enum EmbeddingTruncation
{
    /// <summary>The tokens past the limit are dropped (as sentence-transformers does); the embedding covers the start of the text.</summary>
    Truncate,

    /// <summary>The text is refused with a <see cref="ModelInputException"/> naming its index, its token count and the limit.</summary>
    Refuse,
}

/// <summary>
/// Options of a text-embedding model registered with
/// <see cref="EmbeddingServiceCollectionExtensions.AddEmbeddingModel(Microsoft.Extensions.DependencyInjection.IServiceCollection, string, System.Action{EmbeddingModelOptions})"/>.
/// Validated when the host starts.
/// </summary>
/// <remarks>Read once when the model's generator is built; changing an instance afterwards has no effect.</remarks>
public sealed class EmbeddingModelOptions
{
    /// <summary>Gets or sets the ONNX model: a BERT-style encoder with int64 inputs <c>input_ids</c>, <c>attention_mask</c>,
    /// <c>token_type_ids</c> <c>[batch,sequence]</c> and the float32 output <c>last_hidden_state [batch,sequence,dimension]</c>.</summary>
    /// <value>Required.</value>
    public ModelSource? Source { get; set; }

    /// <summary>Gets or sets the WordPiece vocabulary (<c>vocab.txt</c>, one token per line; the line number is the id).</summary>
    /// <value>Required.</value>
    public ModelSource? Vocabulary { get; set; }

    /// <summary>Gets or sets a value indicating whether texts are lower-cased (and accents removed) before tokenization, as uncased BERT vocabularies expect.</summary>
    /// <value><see langword="true"/>.</value>
    public bool LowerCase { get; set; } = true;

    /// <summary>Gets or sets the most tokens a text may have, counting <c>[CLS]</c> and <c>[SEP]</c>.</summary>
    /// <value>256 (all-MiniLM-L6-v2 was trained at 256; BERT position embeddings allow 512). From 3 to 8192.</value>
    public int MaxTokens { get; set; } = 256;

    /// <summary>Gets or sets what happens to a text longer than <see cref="MaxTokens"/>.</summary>
    /// <value><see cref="EmbeddingTruncation.Truncate"/>.</value>
    public EmbeddingTruncation Truncation { get; set; } = EmbeddingTruncation.Truncate;

    /// <summary>Gets or sets the pooling of token vectors into one vector.</summary>
    /// <value><see cref="EmbeddingPooling.Mean"/>.</value>
    public EmbeddingPooling Pooling { get; set; } = EmbeddingPooling.Mean;

    /// <summary>Gets or sets a value indicating whether embeddings are scaled to unit length (L2), so that a dot product is the cosine.</summary>
    /// <value><see langword="true"/>.</value>
    public bool Normalize { get; set; } = true;

    /// <summary>
    /// Gets or sets the padding granularity, in tokens: a text's tokens are padded (with attention mask 0) up to the
    /// next multiple, so texts of similar length share a length bucket and can run in one batch. 1 pads nothing
    /// (only texts of exactly equal token count batch together). The padding does not change the embedding beyond
    /// float rounding: padded positions are masked out of attention and out of mean pooling.
    /// </summary>
    /// <value>16. From 1 to <see cref="MaxTokens"/>.</value>
    public int LengthBucket { get; set; } = 16;
}
