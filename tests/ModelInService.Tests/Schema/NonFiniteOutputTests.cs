using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;
using ModelInService.Schema;
using ModelInService.Hosting;
using ModelInService.Monitoring;
using ModelInService.Tests.Monitoring;

namespace ModelInService.Tests.Schema;

/// <summary>
/// Issue 14, "Non-finite outputs": NaN or an infinity in a floating-point output is a
/// <see cref="ModelNonFiniteOutputException"/> (a <see cref="ModelInferenceException"/>) naming the member, unless the
/// member is marked [AllowNonFinite]; in a batch only the rows concerned fail; the monitor counts them.
/// </summary>
public sealed class NonFiniteOutputTests
{
    /// <summary>Four finite inputs the iris model turns into NaN probabilities (the standardised values overflow).</summary>
    private static readonly float[] Huge = [3.4e38f, 3.4e38f, 3.4e38f, 3.4e38f];

    public sealed class IrisLenient
    {
        [ModelOutput("label")]
        public long Label { get; set; }

        [ModelOutput("probabilities")]
        [AllowNonFinite]
        public float[] Probabilities { get; set; } = [];
    }

    /// <summary>Scalar columns: only the first refuses non-finite values.</summary>
    public sealed class IrisColumns
    {
        [ModelOutput("probabilities", Order = 0)]
        public float Setosa { get; set; }

        [ModelOutput("probabilities", Order = 1)]
        [AllowNonFinite]
        public float Versicolor { get; set; }

        [ModelOutput("probabilities", Order = 2)]
        [AllowNonFinite]
        public float Virginica { get; set; }
    }

    public sealed class ZipMapInput
    {
        [ModelInput("float_input")]
        public float[] Features { get; set; } = [];
    }

    public sealed class ZipMapOutput
    {
        [ModelOutput("output_probability")]
        public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
    }

    public sealed class ZipMapLenient
    {
        [ModelOutput("output_probability")]
        [AllowNonFinite]
        public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
    }

    public sealed class StateIn
    {
        public float[] X { get; set; } = [];

        public float[] State { get; set; } = [];
    }

    public sealed class StateOut
    {
        public float[] Y { get; set; } = [];

        [ModelOutput("state_out")]
        public float[,] StateOutput { get; set; } = new float[0, 0];
    }

    private static Task<IHost> StartAsync<TIn, TOut>(string file, Action<ModelOptions>? configure = null, Action<BatchingOptions>? batching = null)
        where TIn : class
        where TOut : class =>
        TestModels.StartAsync(s =>
        {
            var model = s.AddModel<TIn, TOut>("m", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.Path(file));
                configure?.Invoke(o);
            });
            if (batching is not null)
            {
                model.UseBatching(batching);
            }
        });

    private static void Batching(BatchingOptions b)
    {
        b.MaxBatchSize = 8;
        b.MaxDelay = TimeSpan.FromMilliseconds(200);
        b.DispatchWhenIdle = false;
    }

    [Fact]
    public async Task Iris_HugeFiniteInputs_GiveNaN_WhichIsAnInferenceErrorNamingTheMember()
    {
        // Regression: the NaN probabilities came back as an answer (HTTP 200 "NaN", or an empty 500 from the JSON writer).
        using var host = await StartAsync<IrisInput, IrisOutput>("iris_mlp.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await predictor.PredictAsync(new IrisInput { Features = Huge }));
        Assert.IsAssignableFrom<ModelInferenceException>(error);
        Assert.Equal("probabilities", error.OutputName);
        Assert.Equal("IrisOutput.Probabilities", error.MemberName);
        Assert.True(double.IsNaN(error.Value));
        Assert.Equal(-1, error.Index);
        Assert.Contains("produced NaN for this input", error.Message, StringComparison.Ordinal);
        Assert.Contains("[AllowNonFinite]", error.Message, StringComparison.Ordinal);

        // Ordinary inputs are untouched.
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task Iris_AllowNonFiniteOnTheMember_PassesTheNaNThrough()
    {
        using var host = await StartAsync<IrisInput, IrisLenient>("iris_mlp.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisLenient>>();

        var result = await predictor.PredictAsync(new IrisInput { Features = Huge });
        Assert.Equal(3, result.Probabilities.Length);
        Assert.All(result.Probabilities, p => Assert.True(float.IsNaN(p)));
    }

    [Fact]
    public async Task ScalarColumns_OnlyTheMembersWithoutTheOptOutAreChecked()
    {
        using var host = await StartAsync<IrisInput, IrisColumns>("iris_mlp.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisColumns>>();

        var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await predictor.PredictAsync(new IrisInput { Features = Huge }));
        Assert.Equal("IrisColumns.Setosa", error.MemberName);
    }

    [Fact]
    public async Task ZipMapValues_AreChecked_AndTheOptOutAppliesToTheDictionary()
    {
        using var strict = await StartAsync<ZipMapInput, ZipMapOutput>("iris_mlp_zipmap.onnx");
        var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () =>
            await strict.Services.GetRequiredService<IPredictor<ZipMapInput, ZipMapOutput>>().PredictAsync(new ZipMapInput { Features = Huge }));
        Assert.Equal("ZipMapOutput.Probabilities", error.MemberName);

        using var lenient = await StartAsync<ZipMapInput, ZipMapLenient>("iris_mlp_zipmap.onnx");
        var result = await lenient.Services.GetRequiredService<IPredictor<ZipMapInput, ZipMapLenient>>().PredictAsync(new ZipMapInput { Features = Huge });
        Assert.All(result.Probabilities.Values, p => Assert.True(float.IsNaN(p)));
    }

    [Fact]
    public async Task PredictBatchAsync_FailsWithTheIndexOfTheFirstRowConcerned()
    {
        using var host = await StartAsync<IrisInput, IrisOutput>("iris_mlp.onnx");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        IrisInput[] rows = [new() { Features = IrisSamples.Setosa }, new() { Features = IrisSamples.Virginica }, new() { Features = Huge }, new() { Features = Huge }];

        var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await predictor.PredictBatchAsync(rows));
        Assert.Equal(2, error.Index);
        Assert.Contains("(batch item 2)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batcher_OnlyTheRowsWithNonFiniteOutputsFail_WithoutBisection()
    {
        using var host = await StartAsync<IrisInput, IrisOutput>("iris_mlp.onnx", batching: Batching);
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var inputs = Enumerable.Range(0, 8).Select(i => new IrisInput { Features = i % 3 == 1 ? Huge : IrisSamples.Virginica }).ToArray();

        var tasks = inputs.Select(i => predictor.PredictAsync(i).AsTask()).ToArray();
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));

        for (var i = 0; i < tasks.Length; i++)
        {
            if (i % 3 == 1)
            {
                var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(() => tasks[i]);
                Assert.Equal("IrisOutput.Probabilities", error.MemberName);
            }
            else
            {
                Assert.Equal(2, (await tasks[i]).Label);
            }
        }

        var statistics = host.Services.GetRequiredService<ModelRegistry>().Get("m").Features.Batcher!.Statistics;
        Assert.Equal(0, statistics.PoisonSplits);
    }

    [Fact]
    public async Task BatchOnAxis1_TheRowIsFoundFromItsSliceOfTheStateTensor()
    {
        // state_out = 2 * state [2,N,3], batch on axis 1: 3e38 doubles to +Infinity in the rows that carry it.
        using var host = await StartAsync<StateIn, StateOut>("conv_batch_axis1.onnx", o => { o.BatchAxes["state"] = 1; o.BatchAxes["state_out"] = 1; }, Batching);
        var predictor = host.Services.GetRequiredService<IPredictor<StateIn, StateOut>>();
        var inputs = Enumerable.Range(0, 6).Select(i =>
        {
            var state = new float[6];
            state[5] = i is 2 or 5 ? 3e38f : i;
            return new StateIn { X = [i, i, i, i], State = state };
        }).ToArray();

        var tasks = inputs.Select(i => predictor.PredictAsync(i).AsTask()).ToArray();
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        for (var i = 0; i < tasks.Length; i++)
        {
            if (i is 2 or 5)
            {
                var error = await Assert.ThrowsAsync<ModelNonFiniteOutputException>(() => tasks[i]);
                Assert.Equal("state_out", error.OutputName);
                Assert.Equal(double.PositiveInfinity, error.Value);
            }
            else
            {
                var result = await tasks[i];
                Assert.Equal(2f * i, result.StateOutput[1, 2]);
                Assert.Equal(i + 1f, result.Y[0]);
            }
        }
    }

    [Fact]
    public async Task Monitor_CountsNonFiniteOutputsWithTheRequestsThatFailed()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseMonitoring(o =>
            {
                o.Windows.Clear();
                o.Windows.Add(TimeSpan.FromMinutes(5));
                o.EvaluationInterval = TimeSpan.FromDays(1);
            });
        });
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");

        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await predictor.PredictAsync(new IrisInput { Features = Huge }));
        await Assert.ThrowsAsync<ModelNonFiniteOutputException>(async () => await predictor.PredictBatchAsync([new IrisInput { Features = Huge }, new IrisInput { Features = Huge }]));

        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(3, monitor.Statistics.SchemaViolations);
        Assert.Equal(3, monitor.GetReport(TimeSpan.FromMinutes(1)).SchemaViolations);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(100)]
    public void FiniteCheck_FindsTheFirstNonFiniteValue_InEveryPositionAndType(int length)
    {
        for (var at = 0; at < length; at++)
        {
            foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                var floats = Enumerable.Range(0, length).Select(i => i == at ? (float)bad : -float.MaxValue + i).ToArray();
                var doubles = Enumerable.Range(0, length).Select(i => i == at ? bad : double.MaxValue - i).ToArray();
                var halves = Enumerable.Range(0, length).Select(i => i == at ? (Half)bad : Half.MaxValue).ToArray();
                Assert.Equal(at, FiniteCheck.IndexOfNonFinite<float>(floats));
                Assert.Equal(at, FiniteCheck.IndexOfNonFinite<double>(doubles));
                Assert.Equal(at, FiniteCheck.IndexOfNonFinite<Half>(halves));
            }
        }

        Assert.Equal(-1, FiniteCheck.IndexOfNonFinite<float>(Enumerable.Repeat(float.MaxValue, length).ToArray()));
        Assert.Equal(-1, FiniteCheck.IndexOfNonFinite<double>(Enumerable.Repeat(-double.Epsilon, length).ToArray()));
        Assert.Equal(-1, FiniteCheck.IndexOfNonFinite<Half>(Enumerable.Repeat(Half.MinValue, length).ToArray()));
        Assert.Equal(-1, FiniteCheck.IndexOfNonFinite<int>(Enumerable.Repeat(-1, length).ToArray()));
    }
}
