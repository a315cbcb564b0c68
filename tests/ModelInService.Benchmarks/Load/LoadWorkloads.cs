using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Benchmarks.Load;

public sealed class XgboostFeatures
{
    [ModelInput("input")]
    public float[] Features { get; set; } = [];
}

public sealed class XgboostPrediction
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

public sealed class ForestFeatures
{
    [ModelInput("X")]
    public float[] Features { get; set; } = [];
}

public sealed class ForestPrediction
{
    [ModelOutput("output_label")]
    public long Label { get; set; }

    // Not `new Dictionary<long, float>()`: that empty dictionary (80 B) was made for every row and then replaced.
    [ModelOutput("output_probability")]
    public IReadOnlyDictionary<long, float> Probabilities { get; set; } = System.Collections.ObjectModel.ReadOnlyDictionary<long, float>.Empty;
}

public sealed class MnistPixels
{
    [ModelInput("Input3")]
    public float[] Pixels { get; set; } = [];
}

public sealed class MnistScores
{
    [ModelOutput("Plus214_Output_0")]
    public float[] Logits { get; set; } = [];
}

public sealed class NnsplitBytes
{
    [ModelInput("input")]
    public byte[] Bytes { get; set; } = [];
}

public sealed class NnsplitScores
{
    [ModelOutput("output")]
    public float[] Scores { get; set; } = [];
}

public sealed class SuperResolutionImage
{
    [ModelInput("input")]
    public float[] Pixels { get; set; } = [];
}

public sealed class SuperResolutionOutput
{
    [ModelOutput("output")]
    public float[] Pixels { get; set; } = [];
}

/// <summary>What the harness needs to know about a model, independent of its C# types.</summary>
internal abstract class LoadWorkload
{
    /// <summary>Short name for <c>--models</c>.</summary>
    public required string Key { get; init; }

    public required string Name { get; init; }

    public required string Path { get; init; }

    /// <summary>Heavy models (hundreds of ms per item) get longer windows and fewer, smaller batch sizes.</summary>
    public bool Heavy { get; init; }

    /// <summary>Whether the issue sets a throughput target for this model (ratio to the limit).</summary>
    public double? LimitTarget { get; init; }

    public abstract Task<ModelReport> MeasureAsync(LoadSettings settings);

    public abstract Task<ModelReport> ScalingAsync(LoadSettings settings);

    public abstract Task<MemoryResult> MemoryAsync(int copies);
}

/// <summary>
/// A model with its typed schema (<typeparamref name="TIn"/>/<typeparamref name="TOut"/>, as a user would write it),
/// the raw tensor layout of one row (element type <typeparamref name="T"/>), and the hand-written ONNX Runtime
/// unpacking a user would do without the library.
/// </summary>
internal sealed class Workload<TIn, TOut, T> : LoadWorkload
    where T : unmanaged
{
    public required string InputName { get; init; }

    /// <summary>The row's dimensions (the tensor's shape without the batch dimension).</summary>
    public required long[] RowDims { get; init; }

    /// <summary>The outputs the typed schema binds (the same ones are fetched in every raw mode).</summary>
    public required string[] OutputNames { get; init; }

    public required Func<Random, T[]> MakeRow { get; init; }

    public required Func<T[], TIn> Wrap { get; init; }

    public required Func<TIn, T[]> Row { get; init; }

    /// <summary>Builds the typed output of row <c>row</c> of <c>rows</c> from the session's results, by hand.</summary>
    public required Func<IReadOnlyList<OrtValue>, int, int, TOut> Unpack { get; init; }

    /// <summary>The ML.NET peer (PredictionEngine over ApplyOnnxModel, pooled); null or <c>Unsupported</c> prints n/a.</summary>
    public MlNetSpec<T>? MlNet { get; init; }

    public int RowElements => (int)RowDims.Aggregate(1L, (a, b) => a * b);

    public long[] Shape(int batch) => [batch, .. RowDims];

    public TIn[] MakeInputs(int count, int seed)
    {
        var random = new Random(seed);
        var inputs = new TIn[count];
        for (var i = 0; i < count; i++)
        {
            inputs[i] = Wrap(MakeRow(random));
        }

        return inputs;
    }

    public override Task<ModelReport> MeasureAsync(LoadSettings settings) => new ModelBench<TIn, TOut, T>(this, settings).RunAsync();

    public override Task<ModelReport> ScalingAsync(LoadSettings settings) => new ModelBench<TIn, TOut, T>(this, settings).ScalingAsync();

    public override Task<MemoryResult> MemoryAsync(int copies) => new ModelBench<TIn, TOut, T>(this, new LoadSettings()).MemoryAsync(copies);
}

/// <summary>Hand-written output unpacking, as a user of the raw ONNX Runtime API would write it.</summary>
internal static class RawUnpack
{
    public static float[] Floats(OrtValue value, int row, int rows)
    {
        var all = value.GetTensorDataAsSpan<float>();
        var n = all.Length / rows;
        return all.Slice(row * n, n).ToArray();
    }

    public static long Long(OrtValue value, int row) => value.GetTensorDataAsSpan<long>()[row];

    /// <summary>Row <paramref name="row"/> of a seq(map(int64, float)) output (sklearn-onnx ZipMap).</summary>
    public static Dictionary<long, float> Map(OrtValue sequence, int row)
    {
        var allocator = OrtAllocator.DefaultInstance;
        using var map = sequence.GetValue(row, allocator);
        using var keys = map.GetValue(0, allocator);
        using var values = map.GetValue(1, allocator);
        var k = keys.GetTensorDataAsSpan<long>();
        var v = values.GetTensorDataAsSpan<float>();
        var dictionary = new Dictionary<long, float>(k.Length);
        for (var i = 0; i < k.Length; i++)
        {
            dictionary[k[i]] = v[i];
        }

        return dictionary;
    }
}

internal static class LoadWorkloads
{
    /// <summary>Every workload whose model file exists; prints what is skipped and why.</summary>
    public static List<LoadWorkload> Available(IReadOnlyCollection<string>? filter, bool quick, TextWriter log)
    {
        var all = new List<LoadWorkload>
        {
            new Workload<IrisInput, IrisOutput, float>
            {
                Key = "iris", Name = "generated iris MLP [?,4]", Path = Paths.RepoModel("iris_mlp.onnx"),
                InputName = "features", RowDims = [4], OutputNames = ["label", "probabilities"],
                MakeRow = r => [4.3f + (3.6f * r.NextSingle()), 2.0f + (2.4f * r.NextSingle()), 1.0f + (5.9f * r.NextSingle()), 0.1f + (2.4f * r.NextSingle())],
                Wrap = row => new IrisInput { Features = row }, Row = x => x.Features,
                Unpack = (o, row, rows) => new IrisOutput { Label = RawUnpack.Long(o[0], row), Probabilities = RawUnpack.Floats(o[1], row, rows) },
                MlNet = new MlNetSpec<MlIrisInput, MlIrisOutput, float>
                {
                    Wrap = row => new MlIrisInput { Features = row }, InputColumns = ["features"], OutputColumns = ["label", "probabilities"],
                    Shapes = new Dictionary<string, int[]> { ["features"] = [1, 4] },
                },
            },
        };

        var shared = Paths.SharedModels;
        if (shared is null)
        {
            log.WriteLine("../shared/models not found (set MIS_SHARED_DIR to its parent): measuring the generated iris MLP only; skipping xgboost, forest, mnist, nnsplit, superres.");
        }
        else
        {
            // Wine dataset row from io.npz, jittered by +-30% per feature so the trees take different paths.
            float[] wine = [14.23f, 1.71f, 2.43f, 15.6f, 127f, 2.8f, 3.06f, 0.28f, 2.29f, 5.64f, 1.04f, 3.92f, 1065f];
            all.Add(new Workload<XgboostFeatures, XgboostPrediction, float>
            {
                Key = "xgboost", Name = "tract xgboost [?,13]", Path = System.IO.Path.Combine(shared, "tabular/tract_xgboost_classifier_tree/model.onnx"),
                LimitTarget = 0.5,
                InputName = "input", RowDims = [13], OutputNames = ["label", "probabilities"],
                MakeRow = r => wine.Select(v => v * (0.7f + (0.6f * r.NextSingle()))).ToArray(),
                Wrap = row => new XgboostFeatures { Features = row }, Row = x => x.Features,
                Unpack = (o, row, rows) => new XgboostPrediction { Label = RawUnpack.Long(o[0], row), Probabilities = RawUnpack.Floats(o[1], row, rows) },
                MlNet = new MlNetSpec<MlXgboostInput, MlXgboostOutput, float>
                {
                    Wrap = row => new MlXgboostInput { Features = row }, InputColumns = ["input"], OutputColumns = ["label", "probabilities"],
                    Shapes = new Dictionary<string, int[]> { ["input"] = [1, 13] },
                },
            });
            all.Add(new Workload<ForestFeatures, ForestPrediction, float>
            {
                Key = "forest", Name = "sklearn random forest [?,4] (ZipMap)", Path = System.IO.Path.Combine(shared, "tabular/yalue_sklearn_randomforest_iris/model.onnx"),
                LimitTarget = 0.85,
                InputName = "X", RowDims = [4], OutputNames = ["output_label", "output_probability"],
                MakeRow = r => [4.3f + (3.6f * r.NextSingle()), 2.0f + (2.4f * r.NextSingle()), 1.0f + (5.9f * r.NextSingle()), 0.1f + (2.4f * r.NextSingle())],
                Wrap = row => new ForestFeatures { Features = row }, Row = x => x.Features,
                Unpack = (o, row, rows) => new ForestPrediction { Label = RawUnpack.Long(o[0], row), Probabilities = RawUnpack.Map(o[1], row) },
                MlNet = new MlNetSpec<MlForestInput, MlForestOutput, float>
                {
                    Wrap = row => new MlForestInput { Features = row }, InputColumns = ["X"], OutputColumns = ["output_label", "output_probability"],
                    Shapes = new Dictionary<string, int[]> { ["X"] = [1, 4] },
                },
            });
            all.Add(new Workload<MnistPixels, MnistScores, float>
            {
                Key = "mnist", Name = "mnist-8-setdim [?,1,28,28]", Path = System.IO.Path.Combine(shared, "mnist/mnist-8-setdim.onnx"),
                LimitTarget = 0.85,
                InputName = "Input3", RowDims = [1, 28, 28], OutputNames = ["Plus214_Output_0"],
                MakeRow = r => Enumerable.Range(0, 784).Select(_ => r.NextSingle()).ToArray(),
                Wrap = row => new MnistPixels { Pixels = row }, Row = x => x.Pixels,
                Unpack = (o, row, rows) => new MnistScores { Logits = RawUnpack.Floats(o[0], row, rows) },
                MlNet = new MlNetSpec<MlMnistInput, MlMnistOutput, float>
                {
                    Wrap = row => new MlMnistInput { Pixels = row }, InputColumns = ["Input3"], OutputColumns = ["Plus214_Output_0"],
                    Shapes = new Dictionary<string, int[]> { ["Input3"] = [1, 1, 28, 28] },
                },
            });
            all.Add(new Workload<NnsplitBytes, NnsplitScores, byte>
            {
                Key = "nnsplit", Name = "nnsplit bi-LSTM [?,32] u8", Path = System.IO.Path.Combine(shared, "text/nnsplit_byte_sb_bidi_lstm/model.onnx"),
                LimitTarget = 0.85,
                InputName = "input", RowDims = [32], OutputNames = ["output"],
                MakeRow = TextRow,
                Wrap = row => new NnsplitBytes { Bytes = row }, Row = x => x.Bytes,
                Unpack = (o, row, rows) => new NnsplitScores { Scores = RawUnpack.Floats(o[0], row, rows) },
                MlNet = new MlNetSpec<MlNnsplitInput, MlNnsplitOutput, byte>
                {
                    Wrap = row => new MlNnsplitInput { Bytes = row }, InputColumns = ["input"], OutputColumns = ["output"],
                    Shapes = new Dictionary<string, int[]> { ["input"] = [1, 32] },
                },
            });
            if (!quick)
            {
                all.Add(new Workload<SuperResolutionImage, SuperResolutionOutput, float>
                {
                    Key = "superres", Name = "pytorch super-resolution [?,1,224,224]", Path = System.IO.Path.Combine(shared, "vision/pytorch_super_resolution/model.onnx"),
                    Heavy = true,
                    InputName = "input", RowDims = [1, 224, 224], OutputNames = ["output"],
                    MakeRow = r => Enumerable.Range(0, 224 * 224).Select(_ => r.NextSingle()).ToArray(),
                    Wrap = row => new SuperResolutionImage { Pixels = row }, Row = x => x.Pixels,
                    Unpack = (o, row, rows) => new SuperResolutionOutput { Pixels = RawUnpack.Floats(o[0], row, rows) },
                    MlNet = new MlNetSpec<MlSuperResolutionInput, MlSuperResolutionOutput, float>
                    {
                        Wrap = row => new MlSuperResolutionInput { Pixels = row }, InputColumns = ["input"], OutputColumns = ["output"],
                        Shapes = new Dictionary<string, int[]> { ["input"] = [1, 1, 224, 224] },
                    },
                });
            }
        }

        var selected = new List<LoadWorkload>();
        foreach (var workload in all)
        {
            if (filter is not null && !filter.Contains(workload.Key, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!File.Exists(workload.Path))
            {
                log.WriteLine($"Skipping {workload.Name}: {workload.Path} not found.");
                continue;
            }

            selected.Add(workload);
        }

        if (filter is not null)
        {
            foreach (var key in filter.Where(k => !all.Any(w => string.Equals(w.Key, k, StringComparison.OrdinalIgnoreCase))))
            {
                log.WriteLine($"Model '{key}' is not available in this run (known: iris, xgboost, forest, mnist, nnsplit, superres; superres only without --quick; shared models need ../shared).");
            }
        }

        return selected;
    }

    private static readonly string[] Sentences =
    [
        "Das ist ein Test. Das ist noch ein Test. ",
        "The quick brown fox jumps over the lazy dog. ",
        "Sentence boundaries are not always obvious! Are they? ",
        "Dr. Smith arrived at 5 p.m. and left early. ",
        "Wir sehen uns morgen. Bis dann und gute Nacht. ",
    ];

    private static byte[] TextRow(Random random)
    {
        var text = string.Concat(Enumerable.Range(0, 4).Select(_ => Sentences[random.Next(Sentences.Length)]));
        var bytes = Encoding.UTF8.GetBytes(text);
        var start = random.Next(bytes.Length - 32);
        return bytes.AsSpan(start, 32).ToArray();
    }
}
