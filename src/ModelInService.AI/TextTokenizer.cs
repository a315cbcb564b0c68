using System.Text;
using Microsoft.ML.Tokenizers;

namespace ModelInService.AI;

/// <summary>A tokenized text: the model's input row and what the monitor and the usage report need.</summary>
/// <param name="Input">The padded row.</param>
/// <param name="Length">The real token count, <c>[CLS]</c> and <c>[SEP]</c> included (the positions under the mask).</param>
/// <param name="UnknownTokens">How many of the text's tokens are <c>[UNK]</c>.</param>
/// <param name="Truncated">Whether tokens past the limit were dropped.</param>
internal readonly record struct TokenizedText(BertInput Input, int Length, int UnknownTokens, bool Truncated);

/// <summary>
/// BERT WordPiece tokenization (Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>: the Hugging Face BasicTokenizer
/// rules: lower-casing and accent stripping for uncased vocabularies, punctuation and CJK characters split, greedy
/// longest-match WordPiece with <c>##</c> continuations). Thread-safe: the tokenizer holds no per-call state.
/// </summary>
internal sealed class TextTokenizer
{
    /// <summary>The Microsoft.ML.Tokenizers tokenizer over the vocabulary.</summary>
    private readonly BertTokenizer _tokenizer;

    /// <summary>The most tokens of a row, <c>[CLS]</c> and <c>[SEP]</c> included.</summary>
    private readonly int _maxTokens;

    /// <summary>The padding granularity (1: none).</summary>
    private readonly int _bucket;

    /// <summary>Whether an over-long text is refused rather than truncated.</summary>
    private readonly bool _refuse;

    /// <summary>Whether texts are lower-cased and their accents stripped (uncased vocabularies).</summary>
    private readonly bool _lowerCase;

    /// <summary>The registered model name, for error messages.</summary>
    private readonly string _modelName;

    public TextTokenizer(string modelName, Stream vocabulary, EmbeddingModelOptions options)
    {
        _modelName = modelName;
        _tokenizer = BertTokenizer.Create(vocabulary, new BertOptions
        {
            // BasicTokenize does lower-casing, accent stripping and splitting (Hugging Face's rules) before the WordPiece step.
            LowerCaseBeforeTokenization = false,
            ApplyBasicTokenization = false,
            RemoveNonSpacingMarks = false,
        });
        _lowerCase = options.LowerCase;
        _maxTokens = options.MaxTokens;
        _bucket = options.LengthBucket;
        _refuse = options.Truncation == EmbeddingTruncation.Refuse;
        ClsId = _tokenizer.ClassificationTokenId;
        SepId = _tokenizer.SeparatorTokenId;
        UnknownId = _tokenizer.UnknownTokenId;
    }

    /// <summary>Gets the id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>Gets the id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>Gets the id of <c>[UNK]</c>.</summary>
    public int UnknownId { get; }

    /// <summary>Gets the WordPiece ids of <paramref name="text"/> without special tokens and without a limit (tests compare them with a reference tokenizer).</summary>
    public IReadOnlyList<int> EncodeWithoutLimit(string text) => _tokenizer.EncodeToIds(BasicTokenize(text, _lowerCase), addSpecialTokens: false);

    /// <summary>
    /// Hugging Face's BasicTokenizer, which the models were trained with: control characters removed, whitespace
    /// folded, lower-casing with accents stripped (NFD, non-spacing marks removed) for uncased vocabularies, and every
    /// punctuation character and CJK ideograph a token of its own, where punctuation is Unicode's P* categories plus
    /// every ASCII character that is not a letter, digit or space (<c>$ + &lt; = &gt; ^ ` | ~</c> are symbols in
    /// Unicode). Microsoft.ML.Tokenizers' own basic tokenization drops those symbols and keeps <c>_</c> inside words,
    /// so it is off and this runs first; the result is space-separated words for its WordPiece step.
    /// </summary>
    internal static string BasicTokenize(string text, bool lowerCase)
    {
        // A lone surrogate (not a character: a broken UTF-16 string) is dropped like U+FFFD; Normalize threw an untyped
        // ArgumentException on it, and only when lower-casing.
        text = WithoutLoneSurrogates(text);
        if (lowerCase)
        {
            text = text.ToLowerInvariant();
            if (!text.IsNormalized(System.Text.NormalizationForm.FormD))
            {
                text = text.Normalize(System.Text.NormalizationForm.FormD);
            }
        }

        // By code point, not UTF-16 unit: CJK ideographs beyond the basic plane (U+20000...) are tokens of their own, as
        // in Hugging Face; a surrogate pair was never recognised and joined the word around it.
        var builder = new System.Text.StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is 0 or 0xFFFD)
            {
                continue;
            }

            var category = Rune.GetUnicodeCategory(rune);
            if (Rune.IsWhiteSpace(rune))
            {
                builder.Append(' ');
            }
            else if (category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format)
            {
                continue;
            }
            else if (lowerCase && category == System.Globalization.UnicodeCategory.NonSpacingMark)
            {
                continue;
            }
            else if (IsPunctuation(rune.Value, category) || IsCjk(rune.Value))
            {
                builder.Append(' ').Append(rune.ToString()).Append(' ');
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }

        return builder.ToString();
    }

    /// <summary><paramref name="text"/> with every unpaired surrogate replaced by U+FFFD (the same instance when there is none).</summary>
    private static string WithoutLoneSurrogates(string text)
    {
        char[]? copy = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            copy ??= text.ToCharArray();
            copy[i] = '\uFFFD';
        }

        return copy is null ? text : new string(copy);
    }

    /// <summary>Hugging Face's <c>_is_punctuation</c>: ASCII 33-47, 58-64, 91-96, 123-126, or a Unicode P* category.</summary>
    private static bool IsPunctuation(int c, System.Globalization.UnicodeCategory category) =>
        c is (>= '!' and <= '/') or (>= ':' and <= '@') or (>= '[' and <= '`') or (>= '{' and <= '~')
        || category is System.Globalization.UnicodeCategory.ConnectorPunctuation or System.Globalization.UnicodeCategory.DashPunctuation
            or System.Globalization.UnicodeCategory.OpenPunctuation or System.Globalization.UnicodeCategory.ClosePunctuation
            or System.Globalization.UnicodeCategory.InitialQuotePunctuation or System.Globalization.UnicodeCategory.FinalQuotePunctuation
            or System.Globalization.UnicodeCategory.OtherPunctuation;

    /// <summary>Hugging Face's <c>_is_chinese_char</c>: the CJK Unified Ideographs blocks and their extensions, and the compatibility ideographs.</summary>
    private static bool IsCjk(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>A row of <c>MaxTokens</c> tokens ([CLS], [UNK]..., [SEP]): the longest the options let through, run once at start-up.</summary>
    public BertInput LongestRow()
    {
        var ids = new long[_maxTokens];
        Array.Fill(ids, UnknownId);
        ids[0] = ClsId;
        ids[^1] = SepId;
        var mask = new long[_maxTokens];
        Array.Fill(mask, 1L);
        return new BertInput { InputIds = ids, AttentionMask = mask, TokenTypeIds = new long[_maxTokens] };
    }

    /// <summary>The longest row in tokens (<see cref="EmbeddingModelOptions.MaxTokens"/>).</summary>
    public int MaxTokens => _maxTokens;

    /// <summary>Tokenizes one text into a padded row.</summary>
    /// <param name="text">The text (empty is allowed: the row is <c>[CLS] [SEP]</c>).</param>
    /// <param name="index">The text's position in the caller's list, for the error message.</param>
    /// <exception cref="ModelInputException">The text is too long and the options say to refuse it.</exception>
    public TokenizedText Tokenize(string text, int index)
    {
        var room = _maxTokens - 2;

        // One token more than fits: a text that produces it is over the limit, and the work stays bounded by the limit
        // however long the text is.
        var ids = _tokenizer.EncodeToIds(BasicTokenize(text, _lowerCase), room + 1, addSpecialTokens: false, out _, out _);
        var count = ids.Count;
        var truncated = count > room;
        if (truncated)
        {
            if (_refuse)
            {
                throw new ModelInputException(_modelName, $"text {index}", $"has more than {room} tokens; MaxTokens is {_maxTokens} including [CLS] and [SEP] (EmbeddingModelOptions.Truncation is Refuse; set it to Truncate to embed the start of the text).");
            }

            count = room;
        }

        var length = count + 2;
        var padded = _bucket == 1 ? length : Math.Min(((length + _bucket - 1) / _bucket) * _bucket, Math.Max(_maxTokens, length));
        var inputIds = new long[padded];
        var mask = new long[padded];
        inputIds[0] = ClsId;
        var unknown = 0;
        for (var i = 0; i < count; i++)
        {
            var id = ids[i];
            if (id == UnknownId)
            {
                unknown++;
            }

            inputIds[i + 1] = id;
        }

        inputIds[count + 1] = SepId;
        mask.AsSpan(0, length).Fill(1);
        return new TokenizedText(new BertInput { InputIds = inputIds, AttentionMask = mask, TokenTypeIds = new long[padded] }, length, unknown, truncated);
    }
}
