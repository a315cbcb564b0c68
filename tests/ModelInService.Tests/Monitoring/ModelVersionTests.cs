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

    internal static void Record(MonitorHarness harness, SyntheticStream stream, int rows, string? version)
    {
        for (var i = 0; i < rows; i++)
        {
            var (row, prediction) = stream.Next();
            harness.Recorder.Record(row, prediction, version);
        }
    }
}
