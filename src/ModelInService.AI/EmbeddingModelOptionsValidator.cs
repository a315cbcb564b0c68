using Microsoft.Extensions.Options;

namespace ModelInService.AI;

/// <summary>Checks <see cref="EmbeddingModelOptions"/> when the host starts; the messages say what to change.</summary>
internal sealed class EmbeddingModelOptionsValidator : IValidateOptions<EmbeddingModelOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddingModelOptions options)
    {
        var failures = new List<string>();
        var model = $"Embedding model '{name}'";
        if (options.Source is null)
        {
            failures.Add($"{model}: Source is not set. Set it to the ONNX model, e.g. o.Source = ModelSource.FromFile(\"models/all-MiniLM-L6-v2.onnx\").");
        }

        if (options.Vocabulary is null)
        {
            failures.Add($"{model}: Vocabulary is not set. Set it to the model's WordPiece vocab.txt, e.g. o.Vocabulary = ModelSource.FromFile(\"models/vocab.txt\").");
        }

        if (options.MaxTokens is < 3 or > 8192)
        {
            failures.Add($"{model}: MaxTokens is {options.MaxTokens}; it must be from 3 (room for [CLS], one token and [SEP]) to 8192.");
        }

        if (options.LengthBucket < 1 || options.LengthBucket > Math.Max(options.MaxTokens, 1))
        {
            failures.Add($"{model}: LengthBucket is {options.LengthBucket}; it must be from 1 (no padding) to MaxTokens ({options.MaxTokens}).");
        }

        if (!Enum.IsDefined(options.Pooling))
        {
            failures.Add($"{model}: Pooling is {(int)options.Pooling}, not a defined EmbeddingPooling (Mean or Cls).");
        }

        if (!Enum.IsDefined(options.Truncation))
        {
            failures.Add($"{model}: Truncation is {(int)options.Truncation}, not a defined EmbeddingTruncation (Truncate or Refuse).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
