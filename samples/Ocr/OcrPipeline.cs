using System.Diagnostics;
using ModelInService;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace Ocr;

/// <summary>One line of text found in the image.</summary>
/// <param name="Text">The recognised text.</param>
/// <param name="Score">The recognizer's mean character probability.</param>
/// <param name="Box">Where the line is, in the image's pixels (axis-aligned).</param>
/// <param name="DetectionScore">The detector's mean probability inside the box.</param>
/// <param name="Angle">0, or 180 when the classifier said the line is upside down.</param>
public sealed record OcrLine(string Text, float Score, OcrBox Box, float DetectionScore, int Angle);

/// <summary>Milliseconds spent in each stage of one request.</summary>
/// <param name="Pre">Decoding, resizing and normalising the image for the detector.</param>
/// <param name="Det">The detector's run.</param>
/// <param name="Post">Probability map to boxes.</param>
/// <param name="Cls">Crops for the classifier and its runs (queue wait included).</param>
/// <param name="Rec">Crops for the recognizer, its runs (queue wait included) and CTC decoding.</param>
/// <param name="Total">The whole request.</param>
public sealed record OcrTimings(double Pre, double Det, double Post, double Cls, double Rec, double Total);

/// <summary>The answer of <c>POST /ocr</c>.</summary>
/// <param name="Width">The image's width.</param>
/// <param name="Height">The image's height.</param>
/// <param name="Lines">The lines, top to bottom, left to right.</param>
/// <param name="Timings">Where the time went.</param>
public sealed record OcrResult(int Width, int Height, IReadOnlyList<OcrLine> Lines, OcrTimings Timings);

/// <summary>The body was not an image the pipeline accepts.</summary>
/// <param name="message">What was wrong, for the caller.</param>
/// <param name="tooLarge">Whether the image is an image, but has more pixels than accepted (413 rather than 400).</param>
public sealed class OcrImageException(string message, bool tooLarge = false) : Exception(message)
{
    /// <summary>Gets whether the image has more pixels than <see cref="OcrOptions.MaxImagePixels"/>.</summary>
    public bool TooLarge { get; } = tooLarge;
}

/// <summary>
/// The OCR pipeline: detector → boxes → crops through the direction classifier → crops through the recognizer →
/// CTC decoding. The crops of a request are sent to the classifier and the recognizer concurrently, one
/// <c>PredictAsync</c> per crop, so with batching on the library's batcher stacks them with the crops of other
/// requests into one run (per recognizer width, the library's length buckets).
/// </summary>
/// <remarks>Thread-safe; one instance serves every request.</remarks>
public sealed partial class OcrPipeline
{
    private readonly IPredictor<DetectorInput, DetectorOutput> detector;
    private readonly IPredictor<ClassifierInput, ClassifierOutput> classifier;
    private readonly IPredictor<RecognizerInput, RecognizerOutput> recognizer;
    private readonly CtcDecoder decoder;
    private readonly OcrOptions options;
    private readonly int[] widths;
    private readonly ILogger<OcrPipeline> logger;
    private readonly CropPool pool = new();
    private readonly PixelBudget budget;

    /// <summary>Creates the pipeline over the three registered models.</summary>
    /// <param name="detector">The text detector.</param>
    /// <param name="classifier">The direction classifier.</param>
    /// <param name="recognizer">The recognizer.</param>
    /// <param name="decoder">The CTC decoder with the recognizer's dictionary.</param>
    /// <param name="options">The pipeline's options.</param>
    /// <param name="budget">The pixels decoded at once, over all requests.</param>
    /// <param name="logger">The logger.</param>
    public OcrPipeline(
        [FromKeyedServices(OcrModelNames.Detector)] IPredictor<DetectorInput, DetectorOutput> detector,
        [FromKeyedServices(OcrModelNames.Classifier)] IPredictor<ClassifierInput, ClassifierOutput> classifier,
        [FromKeyedServices(OcrModelNames.Recognizer)] IPredictor<RecognizerInput, RecognizerOutput> recognizer,
        CtcDecoder decoder,
        IOptions<OcrOptions> options,
        PixelBudget budget,
        ILogger<OcrPipeline> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.detector = detector;
        this.classifier = classifier;
        this.recognizer = recognizer;
        this.decoder = decoder;
        this.options = options.Value;
        this.logger = logger;
        this.budget = budget;
        widths = [.. this.options.RecognitionWidths.Order()];
    }

    /// <summary>Reads the text in an encoded image.</summary>
    /// <param name="encoded">The image file's bytes.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The lines found, with where the time went.</returns>
    /// <exception cref="OcrImageException">The bytes are not an image, or it is too large.</exception>
    /// <exception cref="OcrBusyException">Other images fill <see cref="OcrOptions.MaxPixelsInFlight"/> for longer than <see cref="OcrOptions.MaxPixelWaitMilliseconds"/>.</exception>
    /// <exception cref="ModelException">A model failed, is overloaded or not ready (mapped to ProblemDetails by the library).</exception>
    public async Task<OcrResult> RecognizeAsync(ReadOnlyMemory<byte> encoded, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        SKBitmap image;
        IDisposable lease;
        using (var header = ImageOps.Open(encoded.Span, options.MaxImagePixels, out var error, out var tooLarge) ?? throw new OcrImageException(error!, tooLarge))
        {
            // The decoded image lives until the answer: its pixels are held in the budget that long.
            lease = await budget.AcquireAsync(header.Pixels, TimeSpan.FromMilliseconds(options.MaxPixelWaitMilliseconds), cancellationToken).ConfigureAwait(false);
            SKBitmap? decoded;
            try
            {
                decoded = header.Decode(out error);
            }
            catch
            {
                lease.Dispose();
                throw;
            }

            if (decoded is null)
            {
                lease.Dispose();
                throw new OcrImageException(error!);
            }

            image = decoded;
        }

        using var leaseScope = lease;
        using var imageScope = image;
        var (dw, dh) = ImageOps.DetectorSize(image.Width, image.Height, options.MaxSideLength);
        var tensor = ImageOps.DetectorTensor(image, dw, dh);
        var pre = Stopwatch.GetTimestamp();

        var detection = await detector.PredictAsync(new DetectorInput { Pixels = tensor }, cancellationToken).ConfigureAwait(false);
        var det = Stopwatch.GetTimestamp();

        var boxes = BoxFinder.Find(detection.Map, image.Width, image.Height, options);
        BoxFinder.Sort(boxes);
        var post = Stopwatch.GetTimestamp();

        var turns = await ClassifyAsync(image, boxes, cancellationToken).ConfigureAwait(false);
        var cls = Stopwatch.GetTimestamp();

        var lines = await RecognizeCropsAsync(image, boxes, turns, cancellationToken).ConfigureAwait(false);
        var end = Stopwatch.GetTimestamp();

        var timings = new OcrTimings(
            Ms(started, pre), Ms(pre, det), Ms(det, post), Ms(post, cls), Ms(cls, end), Ms(started, end));
        LogRecognized(logger, image.Width, image.Height, boxes.Count, lines.Count, timings.Total);
        return new OcrResult(image.Width, image.Height, lines, timings);

        static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
    }

    /// <summary>Runs every crop through the classifier; a crop is turned when "180°" is above the threshold.</summary>
    private async Task<CropTurn[]> ClassifyAsync(SKBitmap image, List<DetectedBox> boxes, CancellationToken cancellationToken)
    {
        var turns = new CropTurn[boxes.Count];
        var answers = await RunCropsAsync(boxes.Count, i =>
        {
            var box = boxes[i].Box;
            var vertical = ImageOps.IsVertical(box);
            turns[i] = vertical ? CropTurn.Quarter : CropTurn.None;
            var buffer = pool.Rent(ImageOps.ClassifierWidth);
            var scaled = ImageOps.ScaledWidth(box, vertical, ImageOps.ClassifierWidth);
            ImageOps.WriteCrop(image, box, turns[i], scaled, ImageOps.ClassifierWidth, CropPool.Span(buffer));
            return buffer;
        }, buffer => classifier.PredictAsync(new ClassifierInput { Pixels = buffer }, cancellationToken).AsTask()).ConfigureAwait(false);
        for (var i = 0; i < answers.Length; i++)
        {
            if (answers[i].Probabilities[1] > options.RotateThreshold)
            {
                turns[i] = turns[i] == CropTurn.Quarter ? CropTurn.ThreeQuarters : CropTurn.Half;
            }
        }

        return turns;
    }

    /// <summary>Runs every crop through the recognizer, each padded to its width bucket, and decodes the answers.</summary>
    private async Task<List<OcrLine>> RecognizeCropsAsync(SKBitmap image, List<DetectedBox> boxes, CropTurn[] turns, CancellationToken cancellationToken)
    {
        var widest = widths[^1];
        var answers = await RunCropsAsync(boxes.Count, i =>
        {
            var box = boxes[i].Box;
            var scaled = ImageOps.ScaledWidth(box, ImageOps.IsVertical(box), widest);
            var padded = Bucket(scaled);
            var buffer = pool.Rent(padded);
            ImageOps.WriteCrop(image, box, turns[i], scaled, padded, CropPool.Span(buffer));
            return buffer;
        }, buffer => recognizer.PredictAsync(new RecognizerInput { Pixels = buffer }, cancellationToken).AsTask()).ConfigureAwait(false);
        var lines = new List<OcrLine>(answers.Length);
        for (var i = 0; i < answers.Length; i++)
        {
            var (text, score) = decoder.Decode(answers[i].Probabilities);
            if (score >= options.DropScore && text.Length > 0)
            {
                var angle = turns[i] is CropTurn.Half or CropTurn.ThreeQuarters ? 180 : 0;
                lines.Add(new OcrLine(text, score, boxes[i].Box, boxes[i].Score, angle));
            }
        }

        return lines;
    }

    /// <summary>
    /// One prediction per crop, at most <see cref="OcrOptions.MaxCropsInFlightPerRequest"/> of this request's crops
    /// queued at once (the next crop is made when the oldest is answered): concurrent crops still batch together, with
    /// each other and with other requests' crops, but a page of hundreds of boxes cannot fill the batcher's queue (the
    /// others would get 429s) nor hold hundreds of crop buffers.
    /// </summary>
    private async Task<TOut[]> RunCropsAsync<TOut>(int count, Func<int, float[,,]> prepare, Func<float[,,], Task<TOut>> predict)
    {
        var window = options.MaxCropsInFlightPerRequest;
        var results = new TOut[count];
        var runs = new Task<TOut>?[count];
        var buffers = new float[,,]?[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                if (i >= window)
                {
                    var oldest = i - window;
                    results[oldest] = await runs[oldest]!.ConfigureAwait(false);
                    pool.Return(buffers[oldest]!);
                    buffers[oldest] = null;
                    runs[oldest] = null;
                }

                buffers[i] = prepare(i);
                runs[i] = predict(buffers[i]!);
            }

            for (var i = Math.Max(0, count - window); i < count; i++)
            {
                results[i] = await runs[i]!.ConfigureAwait(false);
            }

            return results;
        }
        finally
        {
            await ReturnAsync(runs, buffers).ConfigureAwait(false);
        }
    }

    /// <summary>The smallest recognition width that holds <paramref name="width"/> (the widest when none does).</summary>
    private int Bucket(int width)
    {
        foreach (var w in widths)
        {
            if (w >= width)
            {
                return w;
            }
        }

        return widths[^1];
    }

    /// <summary>
    /// Returns the crops' pooled buffers once no run can read them any more: after every started prediction has
    /// finished (a failed or canceled request still waits for its siblings, which are already queued).
    /// </summary>
    private async Task ReturnAsync<T>(Task<T>?[] runs, float[,,]?[] buffers)
    {
        foreach (var run in runs)
        {
            if (run is not null)
            {
                try
                {
                    await run.ConfigureAwait(false);
                }
#pragma warning disable CA1031 // The failure is the caller's (Task.WhenAll threw it); here only the buffers matter.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }

        foreach (var buffer in buffers)
        {
            if (buffer is not null)
            {
                pool.Return(buffer);
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "OCR of a {Width}x{Height} image: {Boxes} boxes, {Lines} lines in {Milliseconds} ms")]
    private static partial void LogRecognized(ILogger logger, int width, int height, int boxes, int lines, double milliseconds);
}
