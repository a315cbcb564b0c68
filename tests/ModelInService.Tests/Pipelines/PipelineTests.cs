using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Tests.Monitoring;

namespace ModelInService.Tests.Pipelines;

public class PipelineTests
{
    /// <summary>What an API receives: lengths in millimetres as text, and the unit system used by the client.</summary>
    public sealed class FlowerRequest
    {
        public string Measurements { get; set; } = "";

        public string Unit { get; set; } = "mm";
    }

    public sealed class FlowerAnswer
    {
        public string Species { get; set; } = "";

        public double Confidence { get; set; }
    }

    private static readonly string[] Species = ["setosa", "versicolor", "virginica"];

    /// <summary>The pre-processing step: parse, convert to centimetres; a bad request is a 400, not a crash.</summary>
    private static IrisInput Parse(FlowerRequest request)
    {
        var parts = request.Measurements.Split(',');
        if (parts.Length != 4)
        {
            throw new ModelInputException("iris", nameof(FlowerRequest.Measurements), "must hold four comma-separated lengths.");
        }

        var scale = request.Unit == "mm" ? 0.1f : 1f;
        var features = new float[4];
        for (var i = 0; i < 4; i++)
        {
            features[i] = float.Parse(parts[i], CultureInfo.InvariantCulture) * scale;
        }

        return new IrisInput { Features = features };
    }

    private static FlowerAnswer Answer(FlowerRequest request, IrisOutput output) =>
        new() { Species = Species[output.Label], Confidence = output.Probabilities[output.Label] };

    private static ModelBuilder Iris(IServiceCollection s) =>
        s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));

    [Fact]
    public async Task Pipeline_TransformsTheRequest_RunsTheModel_AndBuildsTheResponse()
    {
        using var host = await TestModels.StartAsync(s => Iris(s).UseBatching().WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer));
        var pipeline = host.Services.GetRequiredKeyedService<IPredictor<FlowerRequest, FlowerAnswer>>("iris");
        Assert.Same(pipeline, host.Services.GetRequiredService<IPredictor<FlowerRequest, FlowerAnswer>>());
        Assert.Equal("iris", pipeline.ModelName);

        var single = await pipeline.PredictAsync(new FlowerRequest { Measurements = "51,35,14,2" });
        var batch = await pipeline.PredictBatchAsync([
            new FlowerRequest { Measurements = "6.7,3.0,5.2,2.3", Unit = "cm" },
            new FlowerRequest { Measurements = "60,29,45,15" },
        ]);
        var withOptions = await pipeline.PredictAsync(new FlowerRequest { Measurements = "51,35,14,2" }, new PredictionOptions { Timeout = TimeSpan.FromSeconds(30) });

        Assert.Equal("setosa", single.Species);
        Assert.InRange(single.Confidence, 0.5, 1);
        Assert.Equal(["virginica", "versicolor"], batch.Select(a => a.Species));
        Assert.Equal("setosa", withOptions.Species);

        // The model's own typed predictor is still there.
        var model = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Assert.Equal(0, (await model.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task StepsThatRejectARequest_GiveModelInputExceptions_NamingTheMemberAndTheBatchItem()
    {
        using var host = await TestModels.StartAsync(s => Iris(s).WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer));
        var pipeline = host.Services.GetRequiredService<IPredictor<FlowerRequest, FlowerAnswer>>();

        var single = await Assert.ThrowsAsync<ModelInputException>(() => pipeline.PredictAsync(new FlowerRequest { Measurements = "1,2" }).AsTask());
        var batch = await Assert.ThrowsAsync<ModelInputException>(() => pipeline.PredictBatchAsync([new FlowerRequest { Measurements = "1,2,3,4" }, new FlowerRequest()]).AsTask());
        var nullRequest = await Assert.ThrowsAsync<ModelInputException>(() => pipeline.PredictAsync(null!).AsTask());

        Assert.Equal("Measurements", single.MemberName);
        Assert.Equal(1, batch.Index);
        Assert.Contains("null", nullRequest.Message, StringComparison.Ordinal);

        // The model's validation still guards the model's input (NaN after pre-processing).
        var nan = await Assert.ThrowsAsync<ModelInputException>(() => pipeline.PredictAsync(new FlowerRequest { Measurements = "NaN,1,1,1" }).AsTask());
        Assert.Contains("Features", nan.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsyncPreprocessing_ReceivesTheCallersToken()
    {
        CancellationToken seen = default;
        using var host = await TestModels.StartAsync(s => Iris(s).WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(
            async (request, token) =>
            {
                seen = token;
                await Task.Yield();
                return Parse(request);
            },
            Answer));
        using var cts = new CancellationTokenSource();

        var answer = await host.Services.GetRequiredService<IPredictor<FlowerRequest, FlowerAnswer>>().PredictAsync(new FlowerRequest { Measurements = "51,35,14,2" }, cts.Token);

        Assert.Equal("setosa", answer.Species);
        Assert.Equal(cts.Token, seen);
    }

    [Fact]
    public void StepsThatDoNotFitTheModel_AreRefusedAtRegistration()
    {
        var services = new ServiceCollection();
        var builder = Iris(services);

        var wrongInput = Assert.Throws<InvalidOperationException>(() => builder.WithPipeline<FlowerRequest, string, IrisOutput, FlowerAnswer>(r => r.Measurements, Answer));
        Assert.Contains("IrisInput", wrongInput.Message, StringComparison.Ordinal);
        Assert.Contains("String", wrongInput.Message, StringComparison.Ordinal);

        builder.WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer);
        Assert.Throws<InvalidOperationException>(() => builder.WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Monitoring_SeesTheRawRequestAndTheModelsInput(bool monitoringFirst)
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            var builder = Iris(s);
            if (monitoringFirst)
            {
                builder.UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
            }

            builder.WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer);
            if (!monitoringFirst)
            {
                builder.UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
            }
        });
        var pipeline = host.Services.GetRequiredService<IPredictor<FlowerRequest, FlowerAnswer>>();
        for (var i = 0; i < 30; i++)
        {
            await pipeline.PredictAsync(new FlowerRequest { Measurements = i % 2 == 0 ? "51,35,14,2" : "6.7,3.0,5.2,2.3", Unit = i % 2 == 0 ? "mm" : "cm" });
        }

        await Assert.ThrowsAsync<ModelInputException>(() => pipeline.PredictAsync(new FlowerRequest { Measurements = "bad" }).AsTask());

        var modelMonitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var pipelineMonitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris:pipeline");
        await modelMonitor.FlushAsync();
        await pipelineMonitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var model = modelMonitor.GetReport(TimeSpan.FromMinutes(1));
        var raw = pipelineMonitor.GetReport(TimeSpan.FromMinutes(1));

        // The model's monitor: the model's input (centimetres) and output.
        Assert.Equal(30, model.Predictions);
        Assert.Contains(model.Features, f => f.Name == "Features[0]");

        // The pipeline's monitor: the raw request (text and unit as categories) and the response.
        Assert.Equal(30, raw.Predictions);
        Assert.Equal(1, raw.SchemaViolations);
        Assert.Equal(["Measurements", "Unit", "Species", "Confidence"], raw.Features.Select(f => f.Name));
        Assert.Equal(30, raw["Unit"]!.Count);
    }

    [Fact]
    public async Task Per_feature_keys_are_checked_against_the_model_and_the_pipeline_once_with_the_nearest_name()
    {
        // The pipeline's monitor shares the model's options: a key may name a feature of either, and is warned (3037)
        // once, against both, only when it names neither.
        var collector = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddLogging(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(collector)));
            s.AddSingleton<TimeProvider>(new FakeTimeProvider(MonitorHarness.Start));
            Iris(s).UseMonitoring(o =>
            {
                o.EvaluationInterval = TimeSpan.FromDays(1);
                o.FeatureThresholds["Features[0]"] = 0.2; // the model's
                o.FeatureThresholds["Confidence"] = 0.2;  // the pipeline's response
                o.CategoricalFeatures.Add("unit");        // the pipeline's request, another case
                o.FeatureThresholds["Confidense"] = 0.2;  // neither
            }).WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, Answer);
        });

        var warning = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3037);
        Assert.Contains("FeatureThresholds[\"Confidense\"] (did you mean 'Confidence'?)", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Features[0]\"", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Confidence\"", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("unit", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_step_that_returns_null_is_an_error_naming_the_step_not_a_NullReferenceException()
    {
        using var host = await TestModels.StartAsync(s => Iris(s).UseMonitoring().WithPipeline<FlowerRequest, IrisInput, IrisOutput, FlowerAnswer>(Parse, (_, _) => null!));
        var pipeline = host.Services.GetRequiredKeyedService<IPredictor<FlowerRequest, FlowerAnswer>>("iris");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.PredictAsync(new FlowerRequest { Measurements = "51,35,14,2" }));

        Assert.Contains("post-processing step of pipeline 'iris' returned null", error.Message, StringComparison.Ordinal);
    }
}
