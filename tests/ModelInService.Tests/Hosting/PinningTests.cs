using Microsoft.Extensions.DependencyInjection;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

public class PinningTests
{
    [Fact]
    public async Task NamedVersions_AppearInCurrentHistoryAndEvents()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.VersionName = "v1";
        }));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var names = new List<string?>();
        manager.VersionChanged += (_, e) => names.Add(e.Current.Name);
        Assert.Equal("v1", manager.Current.Name);

        var v2 = await manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisFixed), "v2");
        var unnamed = await manager.ReloadAsync();
        await manager.RollbackAsync();

        Assert.Equal("v2", v2.Name);
        Assert.Null(unnamed.Name);
        Assert.Equal("v2", manager.Current.Name);
        Assert.Equal(["v2", null, "v2"], names);
        Assert.Equal(["v1", "v2", null, "v2"], manager.History.Select(v => v.Name));
        Assert.Equal(manager.Current, manager.History[^1]);
        await Assert.ThrowsAsync<ArgumentException>(() => manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisMlp), " "));
    }

    [Fact]
    public async Task PinnedVersion_RefusesReloadRollbackAndPromotion_UntilUnpinned()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.VersionName = "golden";
        }));
        var manager = host.Services.GetRequiredService<IModelManager>();
        await manager.ReloadAsync(ModelSource.FromFile(TestModels.IrisFixed), "next");
        await manager.RollbackAsync();
        var pinned = manager.Current;
        Assert.Equal("golden", pinned.Name);

        manager.Pin();

        Assert.True(manager.IsPinned);
        var reload = await Assert.ThrowsAsync<InvalidOperationException>(() => manager.ReloadAsync());
        Assert.Contains("pinned", reload.Message, StringComparison.Ordinal);
        Assert.Contains("golden", reload.Message, StringComparison.Ordinal);
        Assert.Contains("Unpin()", reload.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => manager.RollbackAsync());

        // A canary may still run beside the pinned version, but cannot replace it.
        await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 0.5);
        await Assert.ThrowsAsync<InvalidOperationException>(() => manager.PromoteCandidateAsync());
        await manager.StopCandidateAsync();

        // File-change reloads are skipped while pinned.
        Assert.True(host.Services.GetRequiredService<ModelRegistry>().Get("iris").SkipWatchedReload());
        Assert.Equal(pinned, manager.Current);

        manager.Unpin();

        Assert.False(manager.IsPinned);
        Assert.False(host.Services.GetRequiredService<ModelRegistry>().Get("iris").SkipWatchedReload());
        var after = await manager.ReloadAsync();
        Assert.NotEqual(pinned.Version, after.Version);
    }

    [Fact]
    public void Pin_BeforeAnyVersionServes_Throws()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp);
        using var host = builder.Build(); // not started: nothing loaded
        var manager = host.Services.GetRequiredService<IModelManager>();

        Assert.Throws<ModelNotReadyException>(manager.Pin);
        Assert.False(manager.IsPinned);
    }
}
