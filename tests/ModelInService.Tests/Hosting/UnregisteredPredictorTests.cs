using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Hosting;

/// <summary>Issue 13, defect 8: resolving an IPredictor nobody registered names the models that are registered.</summary>
public class UnregisteredPredictorTests
{
    public sealed class OtherOutput
    {
        [ModelOutput("label")]
        public long Label { get; set; }
    }

    [Fact]
    public async Task ResolvingUnregisteredTypes_ListsTheRegisteredNamesAndTypes()
    {
        var services = new ServiceCollection();
        services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        services.AddModel("raw", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        await provider.StartModelsAsync();

        var ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IPredictor<IrisInput, OtherOutput>>());

        Assert.Contains($"No model serves IPredictor<{typeof(IrisInput).FullName}, {typeof(OtherOutput).FullName}>", ex.Message);
        Assert.Contains($"'iris' (IPredictor<{typeof(IrisInput).FullName}, {typeof(IrisOutput).FullName}>)", ex.Message);
        Assert.Contains("'raw' (named tensors: IModelRunner)", ex.Message);

        // Registered types still resolve to their model, un-keyed, keyed and as an enumerable.
        Assert.Equal("iris", provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().ModelName);
        Assert.Null(provider.GetKeyedService<IPredictor<IrisInput, IrisOutput>>("nope"));
        Assert.All(provider.GetServices<IPredictor<IrisInput, IrisOutput>>(), p => Assert.Equal("iris", p.ModelName));
        var output = await provider.GetServices<IPredictor<IrisInput, IrisOutput>>().Last().PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        Assert.Equal(0, output.Label);
    }
}
