using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Per-feature option keys (<see cref="MonitoringOptions.FeatureThresholds"/>, <see cref="MonitoringOptions.Ranges"/>,
/// <see cref="MonitoringOptions.CategoricalFeatures"/>), from an outside probe: a key that named no feature of the
/// model (a typo) applied to nothing without a word, and a key differing from the feature only in case (configuration
/// keys are case-insensitive everywhere else) did too.
/// </summary>
public sealed class FeatureKeyTests
{
    [Fact]
    public async Task StartAsync_KeysNamingNoFeature_AreLoggedOnce_WithTheNearestName()
    {
        var collector = new FakeLogCollector();
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddLogging(b => b.AddProvider(new FakeLoggerProvider(collector)));
            s.AddSingleton<TimeProvider>(new FakeTimeProvider(MonitorHarness.Start));
            s.AddModel<MonitoringIntegrationTests.TrackedIris, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseMonitoring(o =>
            {
                o.EvaluationInterval = TimeSpan.FromDays(1);
                o.FeatureThresholds["features[0]"] = 0.2; // another case: applies
                o.FeatureThresholds["Lable"] = 0.2;
                o.Ranges["Featurs[1]"] = new MonitorValueRange(0, 10);
                o.CategoricalFeatures.Add("Label");
            });
        });

        var warning = Assert.Single(collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(3037, warning.Id.Id);
        Assert.Equal("MonitorUnknownFeatureKeys", warning.Id.Name);
        Assert.Contains("FeatureThresholds[\"Lable\"] (did you mean 'Label'?)", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Ranges[\"Featurs[1]\"] (did you mean 'Features[1]'?)", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("features[0]", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("CategoricalFeatures", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WarnOnUnknownFeatureKeys_ChecksEachDictionary_AndSuggestsOnlyCloseNames()
    {
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(o =>
        {
            o.FeatureThresholds["y"] = 0.3;                 // case only: applies
            o.FeatureThresholds["Probabilities.top"] = 0.3; // a vector's derived feature: its member is known
            o.FeatureThresholds["Colr"] = 0.3;
            o.Ranges["Probabilites[1]"] = new MonitorValueRange(0, 1);
            o.Ranges["sepal_lenght"] = new MonitorValueRange(0, 1);
            o.CategoricalFeatures.Add("Lable");
            o.CategoricalFeatures.Add("Probabilities[0]");   // members only: elements cannot be listed
        }, logger: logger);

        harness.Monitor.WarnOnUnknownFeatureKeys(null);

        var warning = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("FeatureThresholds[\"Colr\"] (did you mean 'Color'?)", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Ranges[\"Probabilites[1]\"] (did you mean 'Probabilities[1]'?)", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Ranges[\"sepal_lenght\"],", warning.Message, StringComparison.Ordinal); // nothing close
        Assert.Contains("CategoricalFeatures[\"Lable\"] (did you mean 'Label'?)", warning.Message, StringComparison.Ordinal);
        Assert.Contains("CategoricalFeatures[\"Probabilities[0]\"] (did you mean 'Probabilities'?)", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\"y\"", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".top", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WarnOnUnknownFeatureKeys_KeysThatAllMatch_LogNothing()
    {
        var logger = new FakeLogger();
        using var harness = new MonitorHarness(o =>
        {
            o.FeatureThresholds["X"] = 0.3;
            o.FeatureThresholds["Probabilities[1]"] = 0.3;
            o.Ranges["Y"] = new MonitorValueRange(0, 10);
            o.CategoricalFeatures.Add("label");
        }, logger: logger);

        harness.Monitor.WarnOnUnknownFeatureKeys(null);

        Assert.Empty(logger.Collector.GetSnapshot());
    }

    [Fact]
    public void FeatureKeys_DifferingOnlyInCase_ApplyToTheFeature()
    {
        using var harness = new MonitorHarness(o =>
        {
            o.FeatureThresholds["x"] = 0.75;
            o.Ranges["y"] = new MonitorValueRange(100, 200); // every value of Y (about 5) is outside
            o.CalibrationSigmas = 0;
            o.MinimumSampleSize = 100;
        });
        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(1), 2_000));
        harness.Run(new SyntheticStream(2), minutes: 10, perMinute: 100);

        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(10));

        Assert.Equal(0.75, report.Features.Single(f => f.Name == "X").Threshold);
        Assert.Contains(report.Violations, v => v.Feature == "Y" && v.Rule == "range");
    }

    [Fact]
    public void ConfigurationBinding_KeysOfAnotherCase_AreOneKey()
    {
        var options = new MonitoringOptions();
        options.Ranges["SepalLength"] = new MonitorValueRange(0, 1);
        options.CategoricalFeatures.Add("Code");

        Assert.True(options.Ranges.ContainsKey("sepallength"));
        Assert.Contains("CODE", options.CategoricalFeatures);
        Assert.True(options.FeatureThresholds.TryAdd("Petal", 0.1) && !options.FeatureThresholds.TryAdd("PETAL", 0.2));
    }
}
