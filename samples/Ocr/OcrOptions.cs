using System.ComponentModel.DataAnnotations;

namespace Ocr;

/// <summary>
/// The OCR pipeline's settings (configuration section <c>Ocr</c>). The defaults are PaddleOCR's own
/// (<c>tools/infer/utility.py</c>: <c>det_limit_side_len</c> 960, <c>det_db_thresh</c> 0.3, <c>det_db_box_thresh</c> 0.6,
/// <c>cls_thresh</c> 0.9, <c>drop_score</c> 0.5) except the unclip ratio (2.5, not 1.5: see <see cref="UnclipRatio"/>).
/// </summary>
public sealed class OcrOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string Section = "Ocr";

    /// <summary>
    /// Gets or sets the folder holding <c>ch_PP-OCRv4_det_infer.onnx</c>, <c>ch_ppocr_mobile_v2.0_cls_infer.onnx</c>,
    /// <c>ch_PP-OCRv4_rec_infer.onnx</c> and <c>ppocr_keys_v1.txt</c>. The models are not in the repository.
    /// </summary>
    /// <value>Default null: <c>$MIS_SHARED_DIR/models/vision/paddleocr</c>, else <c>../shared/models/vision/paddleocr</c>
    /// next to the repository that holds the app. A relative path is taken from the content root.</value>
    public string? ModelDirectory { get; set; }

    /// <summary>Gets or sets whether the cls and rec models batch concurrent crops (<c>UseBatching</c>).</summary>
    /// <value>Default true.</value>
    public bool Batching { get; set; } = true;

    /// <summary>Gets or sets the most crops per cls or rec run when batching.</summary>
    /// <value>Default 4 (measured on 2 CPU cores: the recognizer gets slower per crop in larger stacks; docs/ocr.md).</value>
    [Range(1, 256)]
    public int MaxBatchSize { get; set; } = 4;

    /// <summary>Gets or sets the longest a batch waits for more crops after its first one, in milliseconds.</summary>
    /// <value>Default 5.</value>
    [Range(0, 10_000)]
    public int MaxDelayMilliseconds { get; set; } = 5;

    /// <summary>Gets or sets whether a partial batch runs at once when the model is idle (<see cref="ModelInService.BatchingOptions.DispatchWhenIdle"/>).</summary>
    /// <value>Default true.</value>
    public bool DispatchWhenIdle { get; set; } = true;

    /// <summary>Gets or sets the longest side of the image the detector sees; larger images are scaled down.</summary>
    /// <value>Default 960 (PaddleOCR's <c>det_limit_side_len</c> with <c>det_limit_type</c> max).</value>
    [Range(32, 4096)]
    public int MaxSideLength { get; set; } = 960;

    /// <summary>Gets or sets the probability above which a pixel of the detector's map is text.</summary>
    /// <value>Default 0.3.</value>
    [Range(0.0, 1.0)]
    public float PixelThreshold { get; set; } = 0.3f;

    /// <summary>Gets or sets the mean probability a box needs to be kept.</summary>
    /// <value>Default 0.6.</value>
    [Range(0.0, 1.0)]
    public float BoxThreshold { get; set; } = 0.6f;

    /// <summary>Gets or sets how far a box grows: by area × ratio / perimeter on each side (DB's unclip).</summary>
    /// <value>Default 2.5. PaddleOCR's 1.5 gave this sample's axis-aligned boxes too little margin: the recognizer
    /// dropped the spaces between words and misread lone digits on rendered text (docs/ocr.md).</value>
    [Range(0.0, 10.0)]
    public float UnclipRatio { get; set; } = 2.5f;

    /// <summary>Gets or sets the classifier's probability of "180°" above which a crop is turned before recognition.</summary>
    /// <value>Default 0.9.</value>
    [Range(0.0, 1.0)]
    public float RotateThreshold { get; set; } = 0.9f;

    /// <summary>Gets or sets the recognition score under which a line is dropped.</summary>
    /// <value>Default 0.5.</value>
    [Range(0.0, 1.0)]
    public float DropScore { get; set; } = 0.5f;

    /// <summary>
    /// Gets or sets the widths a crop is padded to for recognition (48 pixels high), ascending. Crops of equal width
    /// share a run, so a few fixed widths let crops of different lengths batch; a crop wider than the last width is
    /// squeezed to it.
    /// </summary>
    /// <value>Default 320, 480, 640, 960, 1280 (PaddleOCR pads a batch to its widest crop, at least 320).</value>
    public IList<int> RecognitionWidths { get; } = [320, 480, 640, 960, 1280];

    /// <summary>Gets or sets the largest image accepted, in pixels (width × height), checked before decoding.</summary>
    /// <value>Default 25,000,000.</value>
    [Range(1, int.MaxValue)]
    public int MaxImagePixels { get; set; } = 25_000_000;

    /// <summary>
    /// Gets or sets the most pixels (width × height) of the images processed at once, over all requests: a decoded image
    /// takes 4 bytes a pixel for its whole request. A request waits until its image fits (first come, first served).
    /// </summary>
    /// <value>Default 100,000,000 (four images of the largest size, about 400 MB decoded).</value>
    [Range(1, int.MaxValue)]
    public int MaxPixelsInFlight { get; set; } = 100_000_000;

    /// <summary>Gets or sets the longest a request waits for <see cref="MaxPixelsInFlight"/> room before a 429.</summary>
    /// <value>Default 5,000.</value>
    [Range(0, 600_000)]
    public int MaxPixelWaitMilliseconds { get; set; } = 5_000;

    /// <summary>Gets or sets the most crops of one request queued for the classifier or the recognizer at a time: a page
    /// with hundreds of text boxes feeds the batchers as it goes instead of filling their queues (other requests wait
    /// behind at most this many of its crops, and its crop buffers stay bounded).</summary>
    /// <value>Default 32.</value>
    [Range(1, 4096)]
    public int MaxCropsInFlightPerRequest { get; set; } = 32;

    /// <summary>Gets or sets the largest request body accepted, in bytes.</summary>
    /// <value>Default 20 MB.</value>
    [Range(1, int.MaxValue)]
    public int MaxRequestBytes { get; set; } = 20 * 1024 * 1024;
}
