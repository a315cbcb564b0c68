using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SemanticSearch.Tests;

/// <summary>The vector store and the corpus reader, without a model.</summary>
public sealed class SearchIndexTests
{
    [Fact]
    public void SearchRanksByDotProductAndStopsAtK()
    {
        var index = new SearchIndex();
        index.Load(
            [new("a", "east"), new("b", "north"), new("c", "west")],
            [new float[] { 1, 0 }, new float[] { 0, 1 }, new float[] { -1, 0 }]);

        var s = MathF.Sqrt(0.5f);
        var hits = index.Search([s, s], 2);

        Assert.Equal(["east", "north"], hits.Select(h => h.Text));
        Assert.Equal(s, hits[0].Score, 1e-6f);
        Assert.Equal(["west"], index.Search([-1, 0], 1).Select(h => h.Text));
        Assert.Equal(3, index.Search([1, 0], 50).Count);
    }

    [Fact]
    public async Task NotReadyUntilLoaded()
    {
        var index = new SearchIndex();
        var check = new CorpusHealthCheck(index);

        Assert.False(index.IsReady);
        Assert.Throws<InvalidOperationException>(() => index.Search([1f], 1));
        Assert.Equal(HealthStatus.Unhealthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        index.Load([new("t", "x")], [new float[] { 1 }]);

        Assert.True(index.IsReady);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public void LoadRefusesMismatchedVectors()
    {
        var index = new SearchIndex();

        Assert.Throws<ArgumentException>(() => index.Load([new("t", "x"), new("t", "y")], [new float[] { 1 }]));
        Assert.Throws<ArgumentException>(() => index.Load([new("t", "x"), new("t", "y")], [new float[] { 1 }, new float[] { 1, 0 }]));
        Assert.False(index.IsReady);
    }

    [Fact]
    public void ReadCorpusSplitsTopicAndSentenceAndNamesABadLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["# comment", "cooking| Knead the dough. ", "", "sport|Run | fast"]);
            var entries = SearchIndex.ReadCorpus(path);
            Assert.Equal([new CorpusEntry("cooking", "Knead the dough."), new CorpusEntry("sport", "Run | fast")], entries);

            File.WriteAllLines(path, ["cooking|Knead.", "no topic here"]);
            var error = Assert.Throws<FormatException>(() => SearchIndex.ReadCorpus(path));
            Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheSampleCorpusHasEightTopicsOfThirtySentences()
    {
        var entries = SearchIndex.ReadCorpus(Path.Combine(AppContext.BaseDirectory, "corpus.txt"));

        Assert.InRange(entries.Count, 200, 300);
        Assert.Equal(entries.Count, entries.Select(e => e.Text).Distinct().Count());
        Assert.All(entries.GroupBy(e => e.Topic), g => Assert.Equal(30, g.Count()));
        Assert.Equal(8, entries.Select(e => e.Topic).Distinct().Count());
    }
}
