using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ModelInService.Tests.Hosting;

public class DependencyInjectionPatterns
{
    [Fact]
    public async Task Predictor_IsSingleton_AndKeyedByModelName()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var a = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var b = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var keyed = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris_mlp");
        using var scope = host.Services.CreateScope();
        var scoped = scope.ServiceProvider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        Assert.Same(a, b);
        Assert.Same(a, keyed);
        Assert.Same(a, scoped);
        Assert.Equal("iris_mlp", a.ModelName);
    }

    [Fact]
    public async Task SeveralModels_SameTypes_ResolveByKey_DefaultIsTheFirst()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("first", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.AddModel<IrisInput, IrisOutput>("second", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        });

        Assert.Equal("first", host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("first").ModelName);
        Assert.Equal("second", host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("second").ModelName);
        Assert.Equal("first", host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().ModelName);
        Assert.Equal("second", host.Services.GetRequiredKeyedService<IModelRunner>("second").ModelName);
        Assert.Null(host.Services.GetKeyedService<IPredictor<IrisInput, IrisOutput>>("third"));
    }

    [Theory]
    [InlineData("a/b", "path separator")]
    [InlineData("a\\b", "path separator")]
    [InlineData(".", "relative path segment")]
    [InlineData("..", "relative path segment")]
    [InlineData("x\r\nSet-Cookie: pwn=1", "control character")]
    [InlineData("tab\there", "control character")]
    public void AddModel_refuses_names_that_cannot_be_a_url_path_segment_or_a_file_name(string name, string why)
    {
        // An outside probe: 'a/b' made every monitor and admin route 404 and '..' was folded by the browser; either
        // blanked the whole dashboard, and a snapshot file named after 'a/b' would land in a subdirectory.
        var services = new ServiceCollection();
        var ex = Assert.Throws<ArgumentException>(() => services.AddModel<IrisInput, IrisOutput>(name, o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Equal("name", ex.ParamName);
        Assert.Throws<ArgumentException>(() => services.AddModel(name, o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
    }

    [Theory]
    [InlineData("fraud-v2")]
    [InlineData("iris.v1")]
    [InlineData("Modèle 2")]
    [InlineData("...")]
    public void AddModel_accepts_names_that_travel(string name)
    {
        var services = new ServiceCollection();
        Assert.Equal(name, services.AddModel<IrisInput, IrisOutput>(name, o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).Name);
    }

    [Fact]
    public void AddModel_SameNameTwice_Throws()
    {
        var services = new ServiceCollection();
        services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp);
        var ex = Assert.Throws<InvalidOperationException>(() => services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        Assert.Contains("'iris_mlp' is already registered", ex.Message);
    }

    [Fact]
    public void AddModel_NamesDifferingOnlyByCase_Throws()
    {
        // Configuration keys are case-insensitive ("Models:iris" binds to either) and so are URL routes.
        var services = new ServiceCollection();
        services.AddModel<IrisInput, IrisOutput>("Iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        var ex = Assert.Throws<InvalidOperationException>(() => services.AddModel("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        Assert.Contains("'iris'", ex.Message);
        Assert.Contains("'Iris'", ex.Message);
        Assert.Contains("differ only by case", ex.Message);
    }

    [Fact]
    public void AddModel_ReturnsBuilderWithServicesAndName()
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        Assert.Same(services, builder.Services);
        Assert.Equal("iris", builder.Name);
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        services.AddModel<IrisInput, IrisOutput>("iris2", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService)); // idempotent infrastructure
    }

    [Fact]
    public async Task Builder_Configure_AppliesOptions()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).Configure(o => o.MaxConcurrency = 1));
        var registry = host.Services.GetRequiredService<ModelInService.Hosting.ModelRegistry>();
        Assert.Equal(1, registry.Get("iris_mlp").Runtime.MaxConcurrency);
    }

    [Fact]
    public async Task Predictor_BeforeStart_SaysNotLoaded()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp);
        using var host = builder.Build();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var ex = await Assert.ThrowsAsync<ModelNotReadyException>(async () => await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }));
        Assert.Contains("not loaded yet", ex.Message);

        await host.StartAsync();
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
        await host.StopAsync();
    }

    [Fact]
    public async Task PlainServiceProvider_StartModelsAsync_LoadsModels()
    {
        await using var provider = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Assert.Equal(2, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica })).Label);
    }

    [Fact]
    public async Task MissingModelFile_FailsHostStart_NamingTheFile()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("models/does_not_exist.onnx");
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Equal("does_not_exist", ex.ModelName);
        Assert.Contains("does_not_exist.onnx", ex.Message);
        Assert.Contains("was not found", ex.Message);
    }

    [Fact]
    public async Task ContinueOnLoadError_HostStarts_AndCallersGetTheLoadError()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("broken", o =>
            {
                o.Source = ModelSource.FromBytes([1, 2, 3, 4], "garbage bytes");
                o.ContinueOnLoadError = true;
            });
            s.AddModel<IrisInput, IrisOutput>("good", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        });

        var broken = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("broken");
        var ex = await Assert.ThrowsAsync<ModelLoadException>(async () => await broken.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }));
        Assert.Contains("garbage bytes", ex.Message);
        Assert.NotNull(ex.InnerException);
        var good = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("good");
        Assert.Equal(0, (await good.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task InvalidOptions_FailAtStart_WithMessagesThatSayWhatToChange()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = null;
            o.SessionCopies = -1;
            o.MaxRowsPerRun = 0;
            o.ExecutionProvider = "Quantum";
        });
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        var message = string.Join("\n", ex.Failures);
        Assert.Contains("ModelOptions.Source is not set", message);
        Assert.Contains("SessionCopies is -1; use 0 (one per concurrent run) or more", message);
        Assert.Contains("MaxRowsPerRun is 0", message);
        Assert.Contains("ExecutionProvider 'Quantum' is unknown; use one of CPU, CUDA", message);
    }

    [Fact]
    public async Task ThreadOversubscription_IsRejected_UnlessAllowed()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.SessionCopies = 2;
            o.MaxConcurrency = 2;
            o.IntraOpThreads = Environment.ProcessorCount;
        });
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("more than the", ex.Message);
        Assert.Contains("AllowThreadOversubscription", ex.Message);

        using var allowed = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.SessionCopies = 2;
            o.MaxConcurrency = 2;
            o.IntraOpThreads = Environment.ProcessorCount;
            o.AllowThreadOversubscription = true;
        }));
        Assert.Equal(0, (await allowed.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task HostDispose_UnloadsModels_AndLaterCallsSayNotServing()
    {
        var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        await host.StopAsync();
        host.Dispose();

        await Assert.ThrowsAsync<ModelNotReadyException>(async () => await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }));
    }
}
