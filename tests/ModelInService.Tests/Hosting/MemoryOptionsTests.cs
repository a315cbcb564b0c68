using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Tests.Hosting;

public class MemoryOptionsTests
{
    [Fact]
    public async Task ArenaAndMemoryPattern_ReachTheSessionOptions_AndTheModelStillAnswers()
    {
        var seen = new List<(bool Arena, bool Pattern)>();
        await using var provider = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.SessionCopies = 2;
            o.MaxConcurrency = 2;
            o.EnableMemoryArena = false;
            o.EnableMemoryPattern = false;
            o.ConfigureSessionOptions = so =>
            {
                lock (seen)
                {
                    seen.Add((so.EnableCpuMemArena, so.EnableMemoryPattern));
                }
            };
        }));

        var answer = await provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(0, answer.Label);
        Assert.Equal(2, seen.Count); // one per copy
        Assert.All(seen, s => Assert.Equal((false, false), s));
    }

    [Fact]
    public async Task SharedAllocator_ServesSeveralModelsAndCopiesFromOneArena()
    {
        await using var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("a", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.IrisMlp);
                o.UseSharedAllocator = true;
                o.SessionCopies = 2;
                o.MaxConcurrency = 2;
            });
            s.AddModel<IrisInput, IrisOutput>("b", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.IrisMlp);
                o.UseSharedAllocator = true;
            });
        });

        Assert.True(ModelInService.Sessions.SharedAllocator.IsRegistered);
        var a = provider.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("a");
        var b = provider.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("b");
        var tasks = new List<Task<IrisOutput>>();
        for (var i = 0; i < 50; i++)
        {
            tasks.Add(a.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask());
            tasks.Add(b.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor }).AsTask());
        }

        var answers = await Task.WhenAll(tasks);
        for (var i = 0; i < answers.Length; i += 2)
        {
            Assert.Equal(2, answers[i].Label);
            Assert.Equal(1, answers[i + 1].Label);
        }
    }

    [Theory]
    [InlineData(-1L, true, "SharedArenaMaxBytes is -1")]
    [InlineData(5_000_000_000L, true, "32-bit")]
    [InlineData(1_000_000L, false, "UseSharedAllocator is false")]
    public void ArenaLimit_IsValidatedAtStartUp(long maxBytes, bool shared, string expected)
    {
        var services = new ServiceCollection();
        services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.UseSharedAllocator = shared;
            o.SharedArenaMaxBytes = maxBytes;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptionsMonitor<ModelOptions>>().Get("iris"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
