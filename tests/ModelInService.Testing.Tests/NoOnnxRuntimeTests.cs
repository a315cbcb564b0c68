namespace ModelInService.Testing.Tests;

/// <summary>The point of the two packages: a test project that uses them does not load ONNX Runtime.</summary>
public sealed class NoOnnxRuntimeTests
{
    [Fact]
    public void TheFakesAndTheAbstractionsReferenceNeitherOnnxRuntimeNorTheCore()
    {
        foreach (var assembly in new[] { typeof(IPredictor<,>).Assembly, typeof(FakePredictor<,>).Assembly })
        {
            var references = assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
            Assert.DoesNotContain(references, n => n!.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal));
            Assert.DoesNotContain("ModelInService", references);
        }

        Assert.Equal("ModelInService.Abstractions", typeof(IPredictor<,>).Assembly.GetName().Name);
        Assert.Equal("ModelInService", typeof(IPredictor<,>).Namespace);
        Assert.Equal("ModelInService.Abstractions", typeof(ModelInputException).Assembly.GetName().Name);
        Assert.Equal("ModelInService.Abstractions", typeof(ModelInputAttribute).Assembly.GetName().Name);
        Assert.Equal("ModelInService.Abstractions", typeof(ModelMonitorEvent).Assembly.GetName().Name);
    }
}
