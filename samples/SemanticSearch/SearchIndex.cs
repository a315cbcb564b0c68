namespace SemanticSearch;

/// <summary>A corpus sentence and its topic (the part before '|' in corpus.txt).</summary>
/// <param name="Topic">The topic tag, e.g. "cooking".</param>
/// <param name="Text">The sentence.</param>
public sealed record CorpusEntry(string Topic, string Text);

/// <summary>One search result: the sentence, its topic and its cosine similarity to the query.</summary>
/// <param name="Text">The sentence.</param>
/// <param name="Topic">The sentence's topic tag.</param>
/// <param name="Score">The cosine similarity, in [-1, 1].</param>
public sealed record SearchHit(string Text, string Topic, float Score);

/// <summary>
/// The vector store: every sentence's unit-length embedding in one flat float array (row i is sentence i), so the
/// cosine of a query to a sentence is a dot product. Filled once at start-up by <see cref="CorpusIndexer"/>.
/// </summary>
public sealed class SearchIndex
{
    private CorpusEntry[] _entries = [];
    private float[] _vectors = [];
    private int _dimension;
    private volatile bool _ready;

    /// <summary>Whether the corpus has been embedded.</summary>
    public bool IsReady => _ready;

    /// <summary>The number of sentences indexed.</summary>
    public int Count => _entries.Length;

    /// <summary>The embedding dimension (384 for all-MiniLM-L6-v2).</summary>
    public int Dimension => _dimension;

    /// <summary>Fills the index; each vector must be normalized to unit length.</summary>
    /// <param name="entries">The sentences.</param>
    /// <param name="vectors">Their embeddings, in the same order.</param>
    /// <exception cref="ArgumentException">The counts or dimensions do not agree.</exception>
    public void Load(IReadOnlyList<CorpusEntry> entries, IReadOnlyList<ReadOnlyMemory<float>> vectors)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(vectors);
        if (entries.Count != vectors.Count || entries.Count == 0)
        {
            throw new ArgumentException($"{entries.Count} sentences but {vectors.Count} embeddings.", nameof(vectors));
        }

        var dimension = vectors[0].Length;
        var flat = new float[entries.Count * dimension];
        for (var i = 0; i < vectors.Count; i++)
        {
            if (vectors[i].Length != dimension)
            {
                throw new ArgumentException($"Embedding {i} has {vectors[i].Length} dimensions, not {dimension}.", nameof(vectors));
            }

            vectors[i].Span.CopyTo(flat.AsSpan(i * dimension, dimension));
        }

        _entries = [.. entries];
        _vectors = flat;
        _dimension = dimension;
        _ready = true;
    }

    /// <summary>The <paramref name="k"/> sentences closest to <paramref name="query"/> (a unit vector), best first.</summary>
    /// <param name="query">The query's normalized embedding.</param>
    /// <param name="k">How many results (at most the corpus size).</param>
    /// <returns>The hits, sorted by descending score.</returns>
    public IReadOnlyList<SearchHit> Search(ReadOnlySpan<float> query, int k)
    {
        if (!_ready)
        {
            throw new InvalidOperationException("The corpus is not indexed yet.");
        }

        if (query.Length != _dimension)
        {
            throw new ArgumentException($"The query has {query.Length} dimensions, the index {_dimension}.", nameof(query));
        }

        var scores = new float[_entries.Length];
        for (var i = 0; i < scores.Length; i++)
        {
            var row = _vectors.AsSpan(i * _dimension, _dimension);
            var dot = 0f;
            for (var j = 0; j < row.Length; j++)
            {
                dot += row[j] * query[j];
            }

            scores[i] = dot;
        }

        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Descending score; ties keep corpus order.
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));
        var count = Math.Min(k, order.Length);
        var hits = new SearchHit[count];
        for (var i = 0; i < count; i++)
        {
            var entry = _entries[order[i]];
            hits[i] = new SearchHit(entry.Text, entry.Topic, Math.Clamp(scores[order[i]], -1f, 1f));
        }

        return hits;
    }

    /// <summary>Reads a corpus file: one <c>topic|sentence</c> per line; blank lines and lines starting with '#' are skipped.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The entries, in file order.</returns>
    /// <exception cref="FormatException">A line has no topic or no sentence.</exception>
    public static IReadOnlyList<CorpusEntry> ReadCorpus(string path)
    {
        var entries = new List<CorpusEntry>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#'))
            {
                continue;
            }

            var bar = line.IndexOf('|', StringComparison.Ordinal);
            var topic = bar < 0 ? "" : line[..bar].Trim();
            var text = bar < 0 ? "" : line[(bar + 1)..].Trim();
            if (topic.Length == 0 || text.Length == 0)
            {
                throw new FormatException($"{path}, line {number}: expected 'topic|sentence', got '{line}'.");
            }

            entries.Add(new CorpusEntry(topic, text));
        }

        return entries;
    }
}
