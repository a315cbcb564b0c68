using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelInService.Tests.Hosting;

/// <summary>Start-up checks of model options that used to fail late or not at all.</summary>
public class OptionsCheckTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task ModelPath_Empty_StartupValidationNamesModelOptionAndProblem(string path)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(path))));

        var failure = Assert.Single(ex.Failures);
        Assert.Contains("Model 'iris'", failure);
        Assert.Contains("ModelOptions.Source", failure);
        Assert.Contains("is empty", failure);
    }

    [Fact]
    public async Task ModelPath_AbsoluteDirectory_StartupValidationNamesModelOptionAndProblem()
    {
        var dir = Directory.CreateTempSubdirectory("mis-dir-");
        try
        {
            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
                TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(dir.FullName))));

            var failure = Assert.Single(ex.Failures);
            Assert.Contains("Model 'iris'", failure);
            Assert.Contains("ModelOptions.Source", failure);
            Assert.Contains(dir.FullName, failure);
            Assert.Contains("is a directory; point it at the .onnx file", failure);
        }
        finally
        {
            dir.Delete();
        }
    }

    [Fact]
    public async Task ModelPath_RelativeDirectory_StartupValidationNamesModelOptionAndProblem()
    {
        // "models" is the folder next to the test assembly (the content root) that holds the test models.
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile("models"))));

        Assert.Contains("is a directory; point it at the .onnx file", Assert.Single(ex.Failures));
    }

    [Fact]
    public async Task ReloadFromADirectory_SaysItIsADirectory()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        var manager = host.Services.GetRequiredService<IModelManager>();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromFile(Path.GetDirectoryName(TestModels.IrisMlp)!)));

        Assert.Contains("is a directory; point it at the .onnx file", ex.Message);
    }
}
