using Microsoft.Extensions.DependencyInjection;
using ModelInService.Schema;

namespace ModelInService.Tests.Routing;

public class CandidateTests
{
    [Fact]
    public async Task Canary_TakesItsShare_StickyByRoutingKey_ThenPromoteMakesItServe()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseBatching());
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var serving = manager.Current;

        var candidate = await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 0.25);
        for (var i = 0; i < 2000; i++)
        {
            Assert.Equal(2, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica })).Label);
        }

        var report = manager.Candidate!;
        Assert.Equal(CandidateMode.Canary, report.Mode);
        Assert.Equal(candidate.Version, report.Version.Version);
        Assert.InRange(report.Requests, 400, 600); // 25% of 2000, binomial spread well inside

        // Sticky: one key always lands on the same side.
        var before = manager.Candidate!.Requests;
        for (var i = 0; i < 50; i++)
        {
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, new PredictionOptions { RoutingKey = "user-42" });
        }

        var delta = manager.Candidate!.Requests - before;
        Assert.True(delta is 0 or 50, $"routing key split across versions ({delta} of 50 on the candidate)");

        var promoted = await manager.PromoteCandidateAsync();
        Assert.Equal(candidate.Version, manager.Current.Version);
        Assert.Equal(serving.Version, manager.Previous!.Version);
        Assert.Null(manager.Candidate);
        Assert.Equal(promoted.Sha256, manager.Current.Sha256);
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task Shadow_RunsOnACopy_CountsAgreement_AndNeverChangesAnswers()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        await manager.StartShadowAsync(ModelSource.FromFile(TestModels.IrisFixed));

        for (var i = 0; i < 200; i++)
        {
            var output = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
            Assert.Equal(1, output.Label);
            output.Probabilities[0] = 42; // the caller's mutation must not affect the comparison
        }

        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (manager.Candidate!.Agreements + manager.Candidate.Disagreements + manager.Candidate.Skipped < 200 && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10); // the shadow copies run in the background (slowly on a busy machine)
        }

        var report = manager.Candidate!;
        Assert.Equal(200, report.Agreements + report.Disagreements + report.Skipped);
        Assert.True(report.Agreements > 0);
        Assert.Equal(0, report.Disagreements); // the same network, fixed batch: identical answers
        Assert.Equal(1.0, report.AgreementRate);

        await manager.StopCandidateAsync();
        Assert.Null(manager.Candidate);
    }

    [Fact]
    public void Agreement_ToleratesFloatNoise_ButNotDifferentAnswers()
    {
        var copier = new OutputCopier<IrisOutput>(() => new IrisOutput(), MemberModel.ForOutput(typeof(IrisOutput)));
        var a = new IrisOutput { Label = 1, Probabilities = [0.1f, 0.8f, 0.1f] };

        Assert.True(copier.Agrees(a, new IrisOutput { Label = 1, Probabilities = [0.100001f, 0.8f, 0.1f] }));
        Assert.False(copier.Agrees(a, new IrisOutput { Label = 2, Probabilities = [0.1f, 0.8f, 0.1f] }));
        Assert.False(copier.Agrees(a, new IrisOutput { Label = 1, Probabilities = [0.2f, 0.7f, 0.1f] }));
        Assert.False(copier.Agrees(a, new IrisOutput { Label = 1, Probabilities = [0.1f, 0.8f] }));
    }

    [Fact]
    public async Task CanaryShare_OutsideZeroToOne_IsRejected()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 1.5));
        await Assert.ThrowsAsync<InvalidOperationException>(() => manager.PromoteCandidateAsync());
    }

    [Fact]
    public async Task A_canary_request_keeps_the_callers_deadline()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 1.0);

        // A deadline already past: the serving path answers ModelDeadlineExceededException; the canary ignored it.
        await Assert.ThrowsAsync<ModelDeadlineExceededException>(async () =>
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }, new PredictionOptions { Timeout = TimeSpan.Zero }));
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }
}
