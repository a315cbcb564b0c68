using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// The monitoring options validator's failures (from an outside probe): undefined enum values passed, and several
/// options' problems shared one message.
/// </summary>
public sealed class OptionsValidationMessageTests
{
    [Theory]
    [InlineData(42, 0)]
    [InlineData(-1, 0)]
    [InlineData(0, 42)]
    public void Validate_UndefinedMetric_FailsNamingTheOptionAndTheAllowedNames(int numeric, int categorical)
    {
        var options = new MonitoringOptions
        {
            NumericMetric = numeric == 0 ? MonitorDriftMetric.NormalizedWasserstein : (MonitorDriftMetric)numeric,
            CategoricalMetric = categorical == 0 ? MonitorDriftMetric.LInfinity : (MonitorDriftMetric)categorical,
        };

        var result = new MonitoringOptionsValidator().Validate("m", options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        if (numeric != 0)
        {
            Assert.StartsWith($"Model 'm': MonitoringOptions.NumericMetric is {numeric}, which is not a MonitorDriftMetric", failure, StringComparison.Ordinal);
            Assert.Contains("use one of NormalizedWasserstein, KolmogorovSmirnov, JensenShannonDistance, PopulationStabilityIndex, Hellinger, LInfinity", failure, StringComparison.Ordinal);
            Assert.DoesNotContain("CramersV", failure, StringComparison.Ordinal);
        }
        else
        {
            Assert.StartsWith($"Model 'm': MonitoringOptions.CategoricalMetric is {categorical}, which is not a MonitorDriftMetric", failure, StringComparison.Ordinal);
            Assert.Contains("use one of JensenShannonDistance, PopulationStabilityIndex, LInfinity, CramersV", failure, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ValidateOnStart_UndefinedMetricFromConfiguration_IsRefused()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Monitoring:NumericMetric"] = "42", ["Monitoring:CategoricalMetric"] = "cramersv" })
            .Build();
        var services = new ServiceCollection();
        services.Configure<MonitoringOptions>("m", configuration.GetSection("Monitoring"));
        services.AddSingleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptionsMonitor<MonitoringOptions>>().Get("m"));

        // The binder turned "42" into an undefined value; a name binds case-insensitively.
        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("Model 'm': MonitoringOptions.NumericMetric is 42,", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SeveralBadOptions_GivesOneFailurePerOption_EachNamingItsPath()
    {
        var options = new MonitoringOptions
        {
            NumericThreshold = -1,
            CategoricalThreshold = double.NaN,
            CalibrationSigmas = double.PositiveInfinity,
            RangeTolerance = -0.5,
            MinimumSampleSize = 0,
            ReferenceChunkSize = 0,
            MaxPendingOutcomes = -1,
            EvaluationStoreCapacity = -1,
        };
        options.Windows.Add(TimeSpan.FromSeconds(90));
        options.Ranges["sepal_length"] = new MonitorValueRange(5, 1);

        var result = new MonitoringOptionsValidator().Validate("m", options);

        Assert.True(result.Failed);
        string[] paths =
        [
            "NumericThreshold is -1", "CategoricalThreshold is NaN", "CalibrationSigmas is Infinity", "RangeTolerance is -0.5",
            "MinimumSampleSize is 0", "ReferenceChunkSize is 0", "MaxPendingOutcomes is -1", "EvaluationStoreCapacity is -1",
            "Windows[2] is 00:01:30", "Ranges[\"sepal_length\"]: Min 5 > Max 1",
        ];
        Assert.Equal(paths.Length, result.Failures!.Count());
        foreach (var path in paths)
        {
            Assert.Single(result.Failures!, f => f.StartsWith("Model 'm': MonitoringOptions." + path, StringComparison.Ordinal));
        }
    }
}
