using Microsoft.Extensions.Logging.Testing;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Settings and files that silently switched the monitor off (from an outside probe): a NaN range bound failed every
/// evaluation, a NaN threshold could never be exceeded, a typo'd feature key applied to nothing, another model's
/// snapshot merged into this model's history.
/// </summary>
public sealed class OptionsAndMismatchTests
{
    [Fact]
    public void Thresholds_ranges_and_rates_that_would_switch_a_rule_off_are_refused_at_start_up()
    {
        var options = new MonitoringOptions { ExpectedPredictionsPerMinute = double.NaN, CalibrationSigmas = double.PositiveInfinity };
        options.FeatureThresholds["X"] = double.NaN;
        options.FeatureThresholds["Y"] = -1;
        options.Ranges["X"] = new MonitorValueRange(double.NaN, 5);
        options.Ranges["Y"] = new MonitorValueRange(5, 1);

        var result = new MonitoringOptionsValidator().Validate("m", options);

        Assert.True(result.Failed);
        var message = result.FailureMessage;
        Assert.Contains("FeatureThresholds[\"X\"] is NaN", message, StringComparison.Ordinal);
        Assert.Contains("FeatureThresholds[\"Y\"] is -1", message, StringComparison.Ordinal);
        Assert.Contains("Ranges[\"X\"] is [NaN, 5]", message, StringComparison.Ordinal);
        Assert.Contains("Ranges[\"Y\"]: Min 5 > Max 1; use Min <= Max", message, StringComparison.Ordinal);
        Assert.Contains("ExpectedPredictionsPerMinute is NaN", message, StringComparison.Ordinal);
        Assert.Contains("CalibrationSigmas is Infinity; use a finite number", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-5.0)]
    [InlineData(double.PositiveInfinity)]
    public void A_rate_that_is_not_positive_and_finite_is_refused(double rate)
    {
        var result = new MonitoringOptionsValidator().Validate("m", new MonitoringOptions { ExpectedPredictionsPerMinute = rate });

        Assert.True(result.Failed);
        Assert.Contains("ExpectedPredictionsPerMinute is", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ranges_and_zero_thresholds_stay_valid()
    {
        var options = new MonitoringOptions();
        options.Ranges["X"] = new MonitorValueRange(0, double.PositiveInfinity);
        options.Ranges["Y"] = new MonitorValueRange(3, 3);
        options.FeatureThresholds["X"] = 0;

        Assert.True(new MonitoringOptionsValidator().Validate("m", options).Succeeded);
    }

    [Fact]
    public void A_reference_of_another_model_and_option_keys_it_lacks_are_logged_as_warnings()
    {
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(o =>
        {
            o.FeatureThresholds["X"] = 0.2;
            o.FeatureThresholds["Xx"] = 0.2; // a typo: no such feature (warned at start-up, 3037, not here again)
            o.Ranges["Colour"] = new MonitorValueRange(0, 1);
            o.FeatureThresholds["Probabilities[7]"] = 0.2; // the model's vector, an element the reference lacks
        }, logger: logger);
        var reference = MonitorHarness.BuildReference(harness.Options, harness.Recorder, new SyntheticStream(1).Next, 2_000, "another_model", MonitorHarness.Start);

        harness.Monitor.SetReference(reference);

        var warnings = logger.Collector.GetSnapshot().Where(r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning).ToList();
        Assert.Contains(warnings, r => r.Id.Id == 3034 && r.Message.Contains("built for model 'another_model'", StringComparison.Ordinal));
        var unknown = Assert.Single(warnings, r => r.Id.Id == 3035);
        Assert.Contains("FeatureThresholds[\"Probabilities[7]\"]", unknown.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("FeatureThresholds[\"X\"]", unknown.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Xx", unknown.Message, StringComparison.Ordinal); // said twice before, 3035 and 3037
        Assert.DoesNotContain("Colour", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("X", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reference_of_this_model_with_matching_keys_logs_no_warning()
    {
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(o => o.FeatureThresholds["X"] = 0.2, logger: logger);

        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(1), 2_000));

        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public void A_snapshot_of_another_model_is_refused_and_nothing_is_merged()
    {
        using var source = new MonitorHarness(name: "other");
        source.Run(new SyntheticStream(2), minutes: 2, perMinute: 600);
        using var target = new MonitorHarness();

        var error = Assert.Throws<ArgumentException>(() => target.Monitor.MergeSnapshot(source.Monitor.ExportSnapshot()));

        Assert.Contains("The snapshot is of model 'other', this monitor's model is 'synthetic'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, target.Monitor.ExportSnapshot().Intervals.Sum(i => i.Predictions));
    }
}
