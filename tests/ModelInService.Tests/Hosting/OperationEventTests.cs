using Microsoft.Extensions.DependencyInjection;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

/// <summary>The internal event cluster operations replay from: one per successful IModelManager operation, with the resulting state.</summary>
public class OperationEventTests
{
    [Fact]
    public async Task Every_successful_operation_raises_one_event_with_the_resulting_state_and_replays_are_marked_remote()
    {
        using var app = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        var host = app.Services.GetRequiredService<ModelRegistry>().Get("iris");
        var manager = app.Services.GetRequiredService<IModelManager>();
        var events = new List<ModelOperationEventArgs>();
        host.OperationApplied += (_, e) => events.Add(e);
        var v1 = manager.Current;

        var v2 = await manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisFixed), "v2");
        await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromFile(TestModels.Path("missing.onnx")))); // no event
        await manager.RollbackAsync();
        manager.Pin();
        manager.Unpin();
        manager.Unpin(); // not pinned: nothing happened, no event
        var canary = await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 0.5);
        await manager.PromoteCandidateAsync();
        await manager.StartShadowAsync(ModelSource.FromFile(TestModels.IrisMlp));
        await manager.StopCandidateAsync();
        using (ModelOperationScope.Remote())
        {
            await manager.RollbackAsync();
        }

        Assert.Equal(
            [ModelOperationKind.Reload, ModelOperationKind.Rollback, ModelOperationKind.Pin, ModelOperationKind.Unpin, ModelOperationKind.StartCanary,
             ModelOperationKind.PromoteCandidate, ModelOperationKind.StartShadow, ModelOperationKind.StopCandidate, ModelOperationKind.Rollback],
            events.Select(e => e.Kind));
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal([false, false, false, false, false, false, false, false, true], events.Select(e => e.Remote));

        Assert.Equal(v2, events[0].Serving);
        Assert.Equal(TestModels.IrisFixed, events[0].ServingFile);
        Assert.Equal(v1, events[0].Previous);
        Assert.Equal(v1, events[1].Serving);
        Assert.Equal(TestModels.IrisMlp, events[1].ServingFile);
        Assert.True(events[2].Pinned);
        Assert.False(events[3].Pinned);
        Assert.Equal(canary, events[4].Candidate);
        Assert.Equal(TestModels.IrisFixed, events[4].CandidateFile);
        Assert.Equal(CandidateMode.Canary, events[4].CandidateMode);
        Assert.Equal(0.5, events[4].CandidateShare);
        Assert.Equal(canary, events[5].Serving);
        Assert.Null(events[5].Candidate);
        Assert.Equal(CandidateMode.Shadow, events[6].CandidateMode);
        Assert.Null(events[7].Candidate);
    }

    [Fact]
    public async Task A_model_loaded_from_bytes_has_no_file()
    {
        using var app = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromBytes(File.ReadAllBytes(TestModels.IrisMlp))));
        var host = app.Services.GetRequiredService<ModelRegistry>().Get("iris");
        ModelOperationEventArgs? seen = null;
        host.OperationApplied += (_, e) => seen = e;
        app.Services.GetRequiredService<IModelManager>().Pin();
        Assert.NotNull(seen);
        Assert.Null(seen.ServingFile);
        Assert.Equal(host.Runtime.Info.Sha256, seen.Serving.Sha256);
    }
}
