using ModelInService.Monitoring;
using ModelInService.Sketches;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Reference files get the snapshot reader's guarantees (issue 14): a hostile or broken header is a
/// <see cref="FormatException"/> (never a NullReferenceException), and a blob referenced by many chunks is refused
/// instead of being decoded once per reference (allocation amplification).
/// </summary>
public sealed class ReferenceFileHardeningTests
{
    private const uint Magic = 0x464D494D;

    [Theory]
    [InlineData("{\"rows\":1,\"chunkRows\":null,\"features\":[]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[],\"features\":null}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[],\"features\":[null]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[],\"features\":[{\"name\":null}]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[],\"source\":null,\"features\":[]}")]
    [InlineData("{\"rows\":-1,\"chunkRows\":[],\"features\":[]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[-5],\"features\":[]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[],\"features\":[{\"name\":\"a\",\"blob\":-1},{\"name\":\"a\",\"blob\":-1}]}")]
    [InlineData("{\"rows\":1,\"chunkRows\":[1],\"features\":[{\"name\":\"a\",\"blob\":-1}]}")]
    public void Load_BrokenHeader_IsFormatException(string header)
    {
        var file = Write(header, []);
        Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream(file)));
    }

    [Fact]
    public void Load_OneBlobReferencedByEveryChunk_IsRefusedWithoutDecodingItManyTimes()
    {
        var profile = FeatureProfile.CreateNumeric();
        for (var i = 0; i < 1_000; i++)
        {
            profile.Update(i);
        }

        const int Chunks = 5_000;
        var chunkRows = string.Join(",", Enumerable.Repeat("1", Chunks));
        var chunkBlobs = string.Join(",", Enumerable.Repeat("0", Chunks));
        var file = Write($"{{\"rows\":{Chunks},\"chunkRows\":[{chunkRows}],\"features\":[{{\"name\":\"x\",\"blob\":0,\"chunks\":[{chunkBlobs}]}}]}}", [profile.ToByteArray()]);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream(file)));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("referenced more than once", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L * file.Length, $"allocated {allocated:N0} bytes for a {file.Length:N0}-byte file");
    }

    [Fact]
    public void Load_TooManyChunks_IsFormatException()
    {
        var chunkRows = string.Join(",", Enumerable.Repeat("1", MonitorSnapshot.MaxIntervals + 1));
        var file = Write($"{{\"rows\":1,\"chunkRows\":[{chunkRows}],\"features\":[]}}", []);
        var error = Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream(file)));
        Assert.Contains("chunks", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AValidReference_StillRoundTrips()
    {
        using var harness = new MonitorHarness();
        var reference = harness.BuildReference(new SyntheticStream(7), rows: 2_500);
        using var stream = new MemoryStream();
        reference.Save(stream);
        var loaded = MonitorReference.Load(new MemoryStream(stream.ToArray()));
        Assert.Equal(reference.Rows, loaded.Rows);
        Assert.Equal(reference.ChunkCount, loaded.ChunkCount);
    }

    private static byte[] Write(string header, IReadOnlyList<byte[]> blobs)
    {
        using var stream = new MemoryStream();
        SketchFile.Write(stream, Magic, System.Text.Encoding.UTF8.GetBytes(header), blobs);
        return stream.ToArray();
    }
}
