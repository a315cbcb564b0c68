using ModelInService.TestUtilities;

namespace ModelInService.Tool.Tests;

/// <summary>`mis scaffold` through the command line: the files, names, attributes and overwrite rule.</summary>
public sealed class ScaffoldCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mis-scaffold-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Program.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task ZipMapSample_WritesDictionaryOutput_AndRefusesToOverwrite()
    {
        var model = SharedData.RepoModel("iris_mlp_zipmap.onnx");
        var (exit, output, error) = await RunAsync("scaffold", model, "--namespace", "My.App", "--output", _dir, "--name", "Iris");

        Assert.True(exit == 0, error);
        Assert.Contains("register: services.AddModel<IrisInput, IrisOutput>(\"iris_mlp_zipmap.onnx\")", output, StringComparison.Ordinal);
        var input = await File.ReadAllTextAsync(Path.Combine(_dir, "IrisInput.cs"));
        var text = await File.ReadAllTextAsync(Path.Combine(_dir, "IrisOutput.cs"));
        Assert.Contains("namespace My.App;", input, StringComparison.Ordinal);
        Assert.Contains("[ModelInput(\"float_input\")]\n    public float[] FloatInput { get; set; } = [];", input, StringComparison.Ordinal);
        Assert.Contains("using System.Collections.Generic;", text, StringComparison.Ordinal);
        Assert.Matches(@"public IReadOnlyDictionary<(long|string), float> \w+ \{ get; set; \} = new Dictionary<(long|string), float>\(\);", text);

        var (again, _, refused) = await RunAsync("scaffold", model, "--namespace", "My.App", "--output", _dir, "--name", "Iris");
        Assert.Equal(Program.UsageError, again);
        Assert.Contains("pass --force to overwrite", refused, StringComparison.Ordinal);
        Assert.Equal(0, (await RunAsync("scaffold", model, "--namespace", "My.App", "--output", _dir, "--name", "Iris", "--force")).Exit);
    }

    [SkippableFact]
    public async Task TensorNamesThatAreNotIdentifiers_KeepTheirNameInTheAttribute()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (exit, _, error) = await RunAsync("scaffold", SharedData.Model("vision", "light_resnet50", "model.onnx"), "--namespace", "X", "--output", _dir);

        Assert.True(exit == 0, error);
        // The file is model.onnx: the class name comes from its folder.
        var input = await File.ReadAllTextAsync(Path.Combine(_dir, "LightResnet50Input.cs"));
        Assert.Contains("[ModelInput(\"gpu_0/data_0\")]\n    public float[] Gpu0Data0 { get; set; } = [];", input, StringComparison.Ordinal);
        Assert.Contains("Model input <c>gpu_0/data_0</c>: float32 [1,3,224,224].", input, StringComparison.Ordinal);
        Assert.Contains("The whole tensor: 150528 values, shape [1,3,224,224] flattened row-major.", input, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidNamespace_ExitsWithUsageError()
    {
        var (exit, _, error) = await RunAsync("scaffold", SharedData.RepoModel("iris_mlp.onnx"), "--namespace", "My.class", "--output", _dir);

        Assert.Equal(Program.UsageError, exit);
        Assert.Contains("'My.class' is not a valid C# namespace", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir));
    }

    [Fact]
    public async Task MissingNamespace_IsAParseError()
    {
        var (exit, _, error) = await RunAsync("scaffold", SharedData.RepoModel("iris_mlp.onnx"));

        Assert.NotEqual(0, exit);
        Assert.Contains("--namespace", error, StringComparison.Ordinal);
    }
}
