using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>The monitor records which model versions answered the rows of each interval (docs/monitoring.md, "Model versions").</summary>
public class ModelVersionTests
{
    private const string V1 = "0123456789abcdef";
    private const string V2 = "fedcba9876543210";

    [Fact]
    public async Task Record_TwoVersionsInOneInterval_IntervalNamesBothWithTheirRows()
    {
        using var harness = new MonitorHarness();
        var stream = new SyntheticStream(1);
        Record(harness, stream, 100, V1);
        Record(harness, stream, 300, V2);
        Record(harness, stream, 50, V1);
        await harness.Monitor.FlushAsync();

        var interval = Assert.Single(harness.Monitor.ExportSnapshot().Intervals);
        Assert.Equal(450, interval.Rows);
        Assert.Equal(2, interval.Versions.Count);
        Assert.Equal(V1, interval.Versions.NameAt(0));
        Assert.Equal(150, interval.Versions.RowsAt(0));
        Assert.Equal(V2, interval.Versions.NameAt(1));
        Assert.Equal(300, interval.Versions.RowsAt(1));
        Assert.Equal(0, interval.Versions.OtherRows);
    }

    [Fact]
    public void Record_InterleavedVersions_LikeACanary_FillWholeBlocks_AndDropNothing()
    {
        // No consumer: the queue holds 2 blocks. Cutting a block at every version change would queue one-row blocks
        // and drop almost everything; a block counts up to 4 versions, so 2 x 256 interleaved rows fill 2 blocks.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(MonitorHarness.Start);
        var recorder = PredictionRecorder<Row, Prediction>.Create(new MonitoringOptions { QueueCapacity = 512, MaxProfiledRowsPerSecond = 0 }, time);
        var stream = new SyntheticStream(1);
        for (var i = 0; i < 2 * RecordBlock.MaxRows; i++)
        {
            var (row, prediction) = stream.Next();
            recorder.Record(row, prediction, i % 3 == 0 ? V2 : V1);
        }

        Assert.Equal(0, recorder.DroppedTotal);
        Assert.Equal(2, recorder.Reader.Count);
        Assert.True(recorder.Reader.TryRead(out var block));
        Assert.Equal(RecordBlock.MaxRows, block.Rows);
        Assert.Equal(2, block.VersionCount);
        Assert.Equal((V2, 86), (block.VersionAt(0), block.VersionRowsAt(0)));
        Assert.Equal((V1, 170), (block.VersionAt(1), block.VersionRowsAt(1)));
    }

    [Fact]
    public async Task Record_UnknownVersion_NamesNone()
    {
        using var harness = new MonitorHarness();
        Record(harness, new SyntheticStream(1), 100, null);
        await harness.Monitor.FlushAsync();

        var interval = Assert.Single(harness.Monitor.ExportSnapshot().Intervals);
        Assert.Equal(100, interval.Rows);
        Assert.Equal(0, interval.Versions.Count);
    }

    [Fact]
    public async Task Record_MoreVersionsThanTheBound_CountsTheRestAsOther()
    {
        using var harness = new MonitorHarness();
        var stream = new SyntheticStream(1);
        for (var v = 0; v < VersionRows.MaxVersions + 3; v++)
        {
            Record(harness, stream, 10, v.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        }

        await harness.Monitor.FlushAsync();
        var interval = Assert.Single(harness.Monitor.ExportSnapshot().Intervals);
        Assert.Equal(VersionRows.MaxVersions, interval.Versions.Count);
        Assert.Equal(30, interval.Versions.OtherRows);
    }

    [Fact]
    public async Task Snapshot_WritesAndReadsVersions_AndMergeUnionsThem()
    {
        using var a = new MonitorHarness(name: "m");
        using var b = new MonitorHarness(name: "m");
        Record(a, new SyntheticStream(1), 200, V1);
        Record(b, new SyntheticStream(2), 100, V2);
        Record(b, new SyntheticStream(3), 50, V1);
        await a.Monitor.FlushAsync();
        await b.Monitor.FlushAsync();

        var fromB = SnapshotFiles.Read(SnapshotFiles.Bytes(b.Monitor.ExportSnapshot()));
        a.Monitor.MergeSnapshot(fromB);

        var interval = Assert.Single(a.Monitor.ExportSnapshot().Intervals);
        Assert.Equal(350, interval.Rows);
        Assert.Equal(2, interval.Versions.Count);
        Assert.Equal((V1, 250L), (interval.Versions.NameAt(0), interval.Versions.RowsAt(0)));
        Assert.Equal((V2, 100L), (interval.Versions.NameAt(1), interval.Versions.RowsAt(1)));
    }

    [Fact]
    public async Task Snapshot_OldFormatWithoutVersions_ReadsWithNoVersions()
    {
        using var harness = new MonitorHarness();
        Record(harness, new SyntheticStream(1), 100, V1);
        await harness.Monitor.FlushAsync();
        var bytes = SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot());

        // A file of the old code: its header has no "versions" or "otherVersionRows" at all.
        var (header, blobs) = SnapshotFiles.Open(bytes);
        var json = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(header, MonitorJsonContext.Default.SnapshotHeader))!;
        Assert.NotNull(json["intervals"]![0]!["versions"]);
        json["intervals"]![0]!.AsObject().Remove("versions");
        var old = SnapshotFiles.Read(SnapshotFiles.WriteRaw(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), blobs));

        var interval = Assert.Single(old.Intervals);
        Assert.Equal(100, interval.Rows);
        Assert.Equal(0, interval.Versions.Count);
        Assert.Equal(0, interval.Versions.OtherRows);
    }

    [Theory]
    [InlineData("thousands")]
    [InlineData("huge")]
    [InlineData("empty")]
    [InlineData("not-hex/../")]
    [InlineData("null")]
    [InlineData("twice")]
    [InlineData("too-many-rows")]
    [InlineData("negative-other")]
    public async Task Snapshot_HostileVersions_AreFormatException(string kind)
    {
        using var harness = new MonitorHarness();
        Record(harness, new SyntheticStream(1), 100, V1);
        await harness.Monitor.FlushAsync();
        var bytes = SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot());
        var hostile = SnapshotFiles.Edit(bytes, (header, _) =>
        {
            var interval = header.Intervals[0];
            switch (kind)
            {
                case "thousands":
                    interval.Versions = [.. Enumerable.Range(0, 5_000).Select(i => new VersionEntry { Version = i.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), Rows = 0 })];
                    break;
                case "huge":
                    interval.Versions = [new VersionEntry { Version = new string('a', 1_000_000), Rows = 1 }];
                    break;
                case "empty":
                    interval.Versions = [new VersionEntry { Version = "", Rows = 1 }];
                    break;
                case "not-hex/../":
                    interval.Versions = [new VersionEntry { Version = "../etc/passwd", Rows = 1 }];
                    break;
                case "null":
                    interval.Versions = [null];
                    break;
                case "twice":
                    interval.Versions = [new VersionEntry { Version = V1, Rows = 1 }, new VersionEntry { Version = V1, Rows = 1 }];
                    break;
                case "too-many-rows":
                    interval.Versions = [new VersionEntry { Version = V1, Rows = 60 }, new VersionEntry { Version = V2, Rows = 60 }];
                    break;
                default:
                    interval.OtherVersionRows = -1;
                    break;
            }
        });

        var ex = Assert.Throws<FormatException>(() => SnapshotFiles.Read(hostile));
        Assert.Contains("version", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ReferenceFile_KeepsTheReferencesVersions_AndAnOldFileHasNone()
    {
        using var harness = new MonitorHarness();
        Record(harness, new SyntheticStream(1), 300, V1);
        await harness.Monitor.FlushAsync();
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        var frozen = harness.Monitor.FreezeReference(TimeSpan.FromMinutes(10));
        Assert.Equal(V1, frozen.Total.Versions.NameAt(0));

        using var file = new MemoryStream();
        frozen.Save(file);
        var loaded = MonitorReference.Load(new MemoryStream(file.ToArray()));
        Assert.Equal((1, V1, 300L), (loaded.Total.Versions.Count, loaded.Total.Versions.NameAt(0), loaded.Total.Versions.RowsAt(0)));

        // The same file without the field (written by the old code): no versions.
        var (header, blobs) = SketchFile.Read(new MemoryStream(file.ToArray()), MonitorReference.Magic, "monitor reference file");
        var json = System.Text.Json.Nodes.JsonNode.Parse(header)!.AsObject();
        Assert.True(json.Remove("versions"));
        var old = MonitorReference.Load(new MemoryStream(ReferenceBytes(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), blobs)));
        Assert.Equal(0, old.Total.Versions.Count);
        Assert.Equal(300, old.Rows);
    }

    [Theory]
    [InlineData("twice")]
    [InlineData("huge")]
    [InlineData("thousands")]
    [InlineData("path")]
    [InlineData("too-many-rows")]
    public async Task ReferenceFile_HostileVersions_AreFormatException(string versions)
    {
        using var harness = new MonitorHarness();
        Record(harness, new SyntheticStream(1), 300, V1);
        await harness.Monitor.FlushAsync();
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        using var file = new MemoryStream();
        harness.Monitor.FreezeReference(TimeSpan.FromMinutes(10)).Save(file);
        var (header, blobs) = SketchFile.Read(new MemoryStream(file.ToArray()), MonitorReference.Magic, "monitor reference file");
        var json = System.Text.Json.Nodes.JsonNode.Parse(header)!.AsObject();
        var entries = versions switch
        {
            "twice" => "{\"version\":\"a\",\"rows\":0},{\"version\":\"a\",\"rows\":0}",
            "huge" => "{\"version\":\"" + new string('a', 1_000_000) + "\",\"rows\":1}",
            "thousands" => string.Join(",", Enumerable.Range(0, 5_000).Select(i => $"{{\"version\":\"v{i}\",\"rows\":0}}")),
            "path" => "{\"version\":\"../x\",\"rows\":1}",
            _ => "{\"version\":\"0123456789abcdef\",\"rows\":301}",
        };
        json["versions"] = System.Text.Json.Nodes.JsonNode.Parse("[" + entries + "]");

        var ex = Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream(ReferenceBytes(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), blobs))));
        Assert.Contains("version", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] ReferenceBytes(byte[] header, IReadOnlyList<byte[]> blobs)
    {
        using var stream = new MemoryStream();
        SketchFile.Write(stream, MonitorReference.Magic, header, blobs);
        return stream.ToArray();
    }

    internal static void Record(MonitorHarness harness, SyntheticStream stream, int rows, string? version)
    {
        for (var i = 0; i < rows; i++)
        {
            var (row, prediction) = stream.Next();
            harness.Recorder.Record(row, prediction, version);
        }
    }
}
