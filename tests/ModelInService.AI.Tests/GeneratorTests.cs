using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ModelInService.AI.Tests;

/// <summary>Semantics, usage, null/empty handling, options and start-up checks.</summary>
public sealed class GeneratorTests(ModelsFixture models) : IClassFixture<ModelsFixture>
{
    /// <summary>Pairs that say the same thing in different words, each with an unrelated sentence.</summary>
    private static readonly (string A, string B, string Unrelated)[] Paraphrases =
    [
        ("The car would not start this morning.", "My automobile failed to start today.", "The museum opens a new exhibition on Friday."),
        ("How do I reset my password?", "I forgot my password and need to change it.", "The recipe needs three ripe bananas."),
        ("The flight was cancelled because of the storm.", "Bad weather led the airline to cancel the plane.", "She learned to play the violin as a child."),
        ("The stock market fell sharply today.", "Share prices dropped steeply on the exchange today.", "Our dog loves swimming in the lake."),
        ("He is reading a book in the garden.", "A man reads a novel outside among the flowers.", "The server crashed after the update."),
        ("The restaurant was too noisy for a conversation.", "It was so loud in the restaurant that we could not talk.", "Photosynthesis converts light into chemical energy."),
        ("Please send me the invoice by email.", "Could you email the bill to me?", "The mountains were covered in fresh snow."),
        ("The child is afraid of the dark.", "The little boy fears darkness at night.", "Interest rates were raised by the central bank."),
        ("This laptop's battery lasts all day.", "The notebook computer runs a full day on one charge.", "The river flooded the village last spring."),
        ("We won the football match yesterday.", "Our team beat its opponents in yesterday's soccer game.", "Add a pinch of salt to the boiling water."),
    ];

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic-batched")]
    public async Task GenerateAsync_Paraphrases_CloserThanUnrelated(string model)
    {
        var generator = models.Generator(model);
        foreach (var (a, b, unrelated) in Paraphrases)
        {
            var e = await generator.GenerateAsync([a, b, unrelated]);
            var paraphrase = CorrectnessTests.Cosine(e[0].Vector.Span, e[1].Vector.Span);
            Assert.True(paraphrase > CorrectnessTests.Cosine(e[0].Vector.Span, e[2].Vector.Span), $"'{a}' / '{b}' ({paraphrase:F3}) not closer than '{unrelated}'");
            Assert.True(paraphrase > CorrectnessTests.Cosine(e[1].Vector.Span, e[2].Vector.Span), $"'{b}' / '{a}' not closer than '{unrelated}'");
        }
    }

    [Fact]
    public async Task GenerateAsync_Usage_CountsTokensWithSpecialTokens()
    {
        // "hello world ." is 3 WordPiece tokens, plus [CLS] and [SEP]; "" is [CLS] [SEP].
        var result = await models.Generator("minilm").GenerateAsync(["Hello world.", ""]);

        Assert.Equal(7, result.Usage!.InputTokenCount);
        Assert.Equal(7, result.Usage.TotalTokenCount);
        Assert.All(result, e => Assert.Equal("minilm", e.ModelId));
        Assert.All(result, e => Assert.Equal(384, e.Vector.Length));
        Assert.Equal(1.0, Math.Sqrt(CorrectnessTests.Cosine(result[1].Vector.Span, result[1].Vector.Span)), 5);
        Assert.InRange(CorrectnessTests.Dot(result[0].Vector.Span, result[0].Vector.Span), 0.9999, 1.0001);
    }

    [Fact]
    public async Task GenerateAsync_NullText_ArgumentExceptionNamingIndex_NothingRuns()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => models.Generator("minilm").GenerateAsync(["fine", null!]));
        Assert.Contains("Text 1 is null", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentNullException>(() => models.Generator("minilm").GenerateAsync(null!));
    }

    [Fact]
    public async Task GenerateAsync_NoTexts_EmptyResult()
    {
        var result = await models.Generator("minilm").GenerateAsync(Array.Empty<string>());
        Assert.Empty(result);
        Assert.Equal(0, result.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task GenerateAsync_OtherDimensions_NotSupported()
    {
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => models.Generator("minilm").GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 }));
        Assert.Contains("384", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetService_Metadata_NamesModelAndDimensions()
    {
        var metadata = models.Generator("arctic").GetService<EmbeddingGeneratorMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("arctic", metadata.DefaultModelId);
        Assert.Equal(384, metadata.DefaultModelDimensions);
        Assert.Equal("ModelInService", metadata.ProviderName);
        Assert.Same(models.Generator("minilm"), models.Host.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>());
    }

    [Fact]
    public async Task Refuse_TooLongText_ModelInputExceptionNamingIndexAndLimit_AndCacheAnswersRepeat()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("refusing", EmbeddingModels.Options(EmbeddingModels.MiniLm, o =>
        {
            o.MaxTokens = 16;
            o.Truncation = EmbeddingTruncation.Refuse;
        })).UseCaching();
        using var host = builder.Build();
        await host.StartAsync();
        var generator = host.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("refusing");

        var e = await Assert.ThrowsAsync<ModelInputException>(() => generator.GenerateAsync(["short", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"]));
        Assert.Contains("text 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxTokens is 16", e.Message, StringComparison.Ordinal);

        // 14 words + [CLS] + [SEP] = 16 fits exactly.
        var fits = await generator.GenerateAsync(["one two three four five six seven eight nine ten eleven twelve thirteen fourteen"]);
        Assert.Equal(16, fits.Usage!.InputTokenCount);
        var again = await generator.GenerateAsync(["one two three four five six seven eight nine ten eleven twelve thirteen fourteen"]);
        Assert.True(fits[0].Vector.Span.SequenceEqual(again[0].Vector.Span));
        await host.StopAsync();
    }

    [Fact]
    public async Task Truncate_TooLongText_EmbedsTheStart()
    {
        var generator = models.Generator("minilm");
        var words = string.Join(" ", Enumerable.Repeat("alpha beta gamma delta", 100));
        var result = await generator.GenerateAsync([words, words + " and a different ending entirely"]);

        Assert.Equal(512, result.Usage!.InputTokenCount);
        Assert.True(result[0].Vector.Span.SequenceEqual(result[1].Vector.Span));
    }

    [Fact]
    public async Task Start_WithoutVocabulary_FailsNamingTheOption()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("novocab", o => o.Source = EmbeddingModels.Model(EmbeddingModels.MiniLm));
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Vocabulary is not set", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 16, "MaxTokens is 2")]
    [InlineData(256, 0, "LengthBucket is 0")]
    [InlineData(16, 32, "LengthBucket is 32")]
    public void Validator_BadNumbers_MessageSaysWhatToChange(int maxTokens, int bucket, string expected)
    {
        var options = new EmbeddingModelOptions { Source = ModelSource.FromBytes([1]), Vocabulary = ModelSource.FromBytes([1]), MaxTokens = maxTokens, LengthBucket = bucket };
        var result = new EmbeddingModelOptionsValidator().Validate("m", options);
        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ModelIsNotAnEncoder_FailsNamingTheMismatch()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("iris", o =>
        {
            o.Source = ModelSource.FromFile(Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx"));
            o.Vocabulary = EmbeddingModels.Vocabulary(EmbeddingModels.MiniLm);
        });
        using var host = builder.Build();

        var e = await Assert.ThrowsAnyAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("input_ids", e.Message, StringComparison.Ordinal);
        Assert.Contains("last_hidden_state", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_larger_than_the_batching_queue_runs_in_windows_and_equals_the_unbatched_answers()
    {
        // 300 texts, a queue of 16: every text in flight at once failed with ModelOverloadedException on an idle model.
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("small-queue", EmbeddingModels.Options(EmbeddingModels.MiniLm)).UseBatching(b => { b.MaxQueueSize = 16; b.MaxBatchSize = 8; });
        using var host = builder.Build();
        await host.StartAsync();
        var generator = host.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("small-queue");
        var texts = Enumerable.Range(0, 300).Select(i => $"sentence number {i} about topic {i % 7}").ToArray();

        var batched = await generator.GenerateAsync(texts);
        var single = await models.Generator("minilm").GenerateAsync(texts[..20]);

        Assert.Equal(300, batched.Count);
        for (var i = 0; i < 20; i++)
        {
            Assert.True(CorrectnessTests.Cosine(batched[i].Vector.Span, single[i].Vector.Span) > 0.9999, $"text {i}");
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task A_max_tokens_beyond_the_models_positions_stops_the_host_naming_the_option()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("too-long", EmbeddingModels.Options(EmbeddingModels.MiniLm, o => o.MaxTokens = 513));
        using var host = builder.Build();

        var e = await Assert.ThrowsAnyAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("MaxTokens is 513", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lone_surrogates_are_dropped_and_supplementary_ideographs_are_tokens_of_their_own()
    {
        var generator = models.Generator("minilm");

        // Was an untyped ArgumentException from string.Normalize (a 500 in an app), and only when lower-casing.
        var result = await generator.GenerateAsync(["abc\uD800def", "abcdef", "\uDC00"]);
        Assert.Equal(3, result.Count);
        Assert.True(result[0].Vector.Span.SequenceEqual(result[1].Vector.Span));

        // Hugging Face splits CJK ideographs beyond the basic plane (U+20000...) into tokens of their own.
        Assert.Equal(" \U00020000  \U00020001 ", TextTokenizer.BasicTokenize("\U00020000\U00020001", lowerCase: true));
        Assert.Equal("abc \U00020000 def", TextTokenizer.BasicTokenize("abc\U00020000def", lowerCase: true));
    }
}
