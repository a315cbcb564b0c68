using Microsoft.Extensions.Logging.Testing;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// docs/security.md: "No log message of the library contains a feature value, an input or an output". An outside
/// probe sent a category value with line breaks; the unseen-categories rule logged it verbatim (event 3004), which
/// forged log lines in sinks that do not escape newlines.
/// </summary>
public sealed class PayloadLoggingTests
{
    private const string Payload = "zz\nwarn: ModelInService.Admin[9999]\n      FORGED";

    [Fact]
    public async Task Unseen_category_values_are_not_in_the_log_or_the_rule_message()
    {
        var collector = new FakeLogCollector();
        using var harness = new MonitorHarness(logger: new FakeLogger(collector));
        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(11), 20_000));

        var stream = new SyntheticStream(12);
        for (var m = 0; m < 10; m++)
        {
            for (var i = 0; i < 1_000; i++)
            {
                var (row, prediction) = stream.Next();
                if (i % 10 == 0)
                {
                    row.Color = Payload + (i % 30); // 10% in three categories the reference never saw
                }

                harness.Recorder.Record(row, prediction);
            }

            await harness.Monitor.FlushAsync();
            harness.Time.Advance(TimeSpan.FromMinutes(1));
        }

        var events = await harness.Monitor.EvaluateAsync();
        var violation = Assert.Single(events, e => e.Kind == ModelMonitorEventKind.QualityViolation && e.Rule == "unseen");
        Assert.Contains("3 categories the reference never saw", violation.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("FORGED", violation.Message, StringComparison.Ordinal);
        Assert.Contains(collector.GetSnapshot(), r => r.Id.Id == 3004);
        Assert.All(collector.GetSnapshot(), r => Assert.DoesNotContain("FORGED", r.Message, StringComparison.Ordinal));
        Assert.All(harness.Monitor.GetReport(TimeSpan.FromMinutes(10)).Violations, v => Assert.DoesNotContain("zz", v.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_reference_that_turns_drift_detection_off_is_warned_about()
    {
        // An outside probe: a reference with X profiled as categories (numeric in the model) or a frozen empty window
        // left every feature unjudged (NoReference), with no warning at all.
        var collector = new FakeLogCollector();
        using var harness = new MonitorHarness(logger: new FakeLogger(collector));
        var stream = new SyntheticStream(21);
        harness.Run(stream, 1, 200); // the monitor now knows the model's features

        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(22), 5_000));
        Assert.DoesNotContain(collector.GetSnapshot(), r => r.Id.Id == 3036); // a fitting reference says nothing

        var builder = new MonitorReferenceBuilder(100);
        for (var i = 0; i < 500; i++)
        {
            builder.AddCategorical("X", (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture));
            builder.AddNumeric("Y", i);
            builder.EndRow();
        }

        harness.Monitor.SetReference(builder.Build());
        var kinds = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3036);
        Assert.Contains("'X' is numeric here, categorical in the reference", kinds.Message, StringComparison.Ordinal);

        collector.Clear();
        harness.Monitor.SetReference(new MonitorReferenceBuilder().Build());
        var empty = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3036);
        Assert.Contains("it has no rows", empty.Message, StringComparison.Ordinal);
        Assert.Contains("none of the model's features is in it", empty.Message, StringComparison.Ordinal);
    }
}
