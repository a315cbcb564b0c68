using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace ModelInService.Benchmarks.Load;

// ML.NET's own peer: a PredictionEngine over ApplyOnnxModel, pooled as Microsoft.Extensions.ML's PredictionEnginePool
// pools it (PoolLoader: new DefaultObjectPool<PredictionEngine<TData, TPrediction>>(policy), the policy's Create() =
// mlContext.Model.CreatePredictionEngine(model), Return() = true; DefaultObjectPool keeps up to 2 x cores engines).
// Every engine made from the one fitted transformer shares its single InferenceSession.

/// <summary>The pooled-object policy of Microsoft.Extensions.ML's PredictionEnginePool, written out.</summary>
internal sealed class PredictionEnginePolicy<TData, TPrediction>(MLContext context, ITransformer model) : PooledObjectPolicy<PredictionEngine<TData, TPrediction>>
    where TData : class
    where TPrediction : class, new()
{
    public override PredictionEngine<TData, TPrediction> Create() => context.Model.CreatePredictionEngine<TData, TPrediction>(model);

    public override bool Return(PredictionEngine<TData, TPrediction> obj) => true;
}

/// <summary>How one model runs through ML.NET, or why it cannot (<see cref="Unsupported"/>).</summary>
internal abstract class MlNetSpec<T>
    where T : unmanaged
{
    /// <summary>Why ML.NET cannot run this model (the row is printed as n/a); null when it can.</summary>
    public string? Unsupported { get; init; }

    /// <summary>Builds the pool on the model (intra-op threads of the shared session: null = ML.NET's default) and measures it under the closed loop.</summary>
    public abstract Task<WindowResult> MeasureAsync(string path, int? intraOp, IReadOnlyList<T[]> rows, int callers, TimeSpan warmup, TimeSpan window, TimeSpan stuckAfter);
}

/// <summary>A model's ML.NET input and output classes and the column names and fixed shapes ApplyOnnxModel needs.</summary>
internal sealed class MlNetSpec<TData, TPrediction, T> : MlNetSpec<T>
    where TData : class, new()
    where TPrediction : class, new()
    where T : unmanaged
{
    public required Func<T[], TData> Wrap { get; init; }

    public required string[] InputColumns { get; init; }

    public required string[] OutputColumns { get; init; }

    /// <summary>Fixed shapes for symbolic dimensions (ApplyOnnxModel's shapeDictionary).</summary>
    public IDictionary<string, int[]>? Shapes { get; init; }

    public override async Task<WindowResult> MeasureAsync(string path, int? intraOp, IReadOnlyList<T[]> rows, int callers, TimeSpan warmup, TimeSpan window, TimeSpan stuckAfter)
    {
        var context = new MLContext(seed: 1);
        var options = new OnnxOptions
        {
            ModelFile = path,
            InputColumns = InputColumns,
            OutputColumns = OutputColumns,
            ShapeDictionary = Shapes,
            IntraOpNumThreads = intraOp,
        };
        var pipeline = context.Transforms.ApplyOnnxModel(options);
        var model = pipeline.Fit(context.Data.LoadFromEnumerable(new List<TData>()));
        try
        {
            var pool = new DefaultObjectPool<PredictionEngine<TData, TPrediction>>(new PredictionEnginePolicy<TData, TPrediction>(context, model));
            var inputs = rows.Select(Wrap).ToArray();

            // One prediction up front: a model ML.NET cannot run fails here, not inside the measured window.
            var first = pool.Get();
            _ = first.Predict(inputs[0]);
            pool.Return(first);

            return await ClosedLoop.RunAsync<TData, TPrediction>(inputs, callers, null, input =>
            {
                var engine = pool.Get();
                try
                {
                    return engine.Predict(input);
                }
                finally
                {
                    pool.Return(engine);
                }
            }, warmup, window, stuckAfter: stuckAfter);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}

// The ML.NET classes of each model (ML.NET needs fixed vector sizes for the inputs; outputs of unknown size are
// variable-length vectors).

public sealed class MlIrisInput
{
    [ColumnName("features")]
    [VectorType(4)]
    public float[] Features { get; set; } = [];
}

public sealed class MlIrisOutput
{
    [ColumnName("label")]
    public long[] Label { get; set; } = [];

    [ColumnName("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

public sealed class MlXgboostInput
{
    [ColumnName("input")]
    [VectorType(13)]
    public float[] Features { get; set; } = [];
}

public sealed class MlXgboostOutput
{
    [ColumnName("label")]
    public long[] Label { get; set; } = [];

    [ColumnName("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

public sealed class MlForestInput
{
    [ColumnName("X")]
    [VectorType(4)]
    public float[] Features { get; set; } = [];
}

public sealed class MlForestOutput
{
    [ColumnName("output_label")]
    public long[] Label { get; set; } = [];

    [ColumnName("output_probability")]
    [OnnxSequenceType(typeof(IDictionary<long, float>))]
    public IEnumerable<IDictionary<long, float>> Probabilities { get; set; } = [];
}

public sealed class MlMnistInput
{
    [ColumnName("Input3")]
    [VectorType(1, 1, 28, 28)]
    public float[] Pixels { get; set; } = [];
}

public sealed class MlMnistOutput
{
    [ColumnName("Plus214_Output_0")]
    public float[] Logits { get; set; } = [];
}

public sealed class MlNnsplitInput
{
    [ColumnName("input")]
    [VectorType(1, 32)]
    public byte[] Bytes { get; set; } = [];
}

public sealed class MlNnsplitOutput
{
    [ColumnName("output")]
    public float[] Scores { get; set; } = [];
}

public sealed class MlSuperResolutionInput
{
    [ColumnName("input")]
    [VectorType(1, 1, 224, 224)]
    public float[] Pixels { get; set; } = [];
}

public sealed class MlSuperResolutionOutput
{
    [ColumnName("output")]
    public float[] Pixels { get; set; } = [];
}
