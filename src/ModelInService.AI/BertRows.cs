namespace ModelInService.AI;

/// <summary>
/// One tokenized text as the model's input row: the typed schema (docs/schemas.md) maps the three members onto the
/// model's int64 <c>[batch,sequence]</c> inputs and checks them when the model loads. Rows are padded to a multiple of
/// <see cref="EmbeddingModelOptions.LengthBucket"/>, so rows of equal padded length share the batcher's length bucket.
/// </summary>
internal sealed class BertInput
{
    /// <summary>Gets or sets the token ids: <c>[CLS]</c>, the text's WordPiece ids, <c>[SEP]</c>, then <c>[PAD]</c> (0).</summary>
    [ModelInput("input_ids")]
    public long[] InputIds { get; set; } = [];

    /// <summary>Gets or sets 1 over the real tokens and 0 over the padding.</summary>
    [ModelInput("attention_mask")]
    public long[] AttentionMask { get; set; } = [];

    /// <summary>Gets or sets the segment ids: all 0 (one sentence).</summary>
    [ModelInput("token_type_ids")]
    public long[] TokenTypeIds { get; set; } = [];
}

/// <summary>The model's output row: the token vectors <c>[sequence, dimension]</c> of one text.</summary>
internal sealed class BertOutput
{
    /// <summary>Gets or sets the last hidden state of every position, padding included.</summary>
    [ModelOutput("last_hidden_state")]
    public float[,] LastHiddenState { get; set; } = new float[0, 0];
}
