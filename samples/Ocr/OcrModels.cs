using ModelInService;

namespace Ocr;

/// <summary>The keys the three models are registered under.</summary>
public static class OcrModelNames
{
    /// <summary>The text detector (DB, PP-OCRv4).</summary>
    public const string Detector = "ocr-det";

    /// <summary>The direction classifier (0° or 180°).</summary>
    public const string Classifier = "ocr-cls";

    /// <summary>The recognizer (CTC, PP-OCRv4).</summary>
    public const string Recognizer = "ocr-rec";
}

/// <summary>The detector's input <c>x</c> float32 [N,3,H,W]: one normalised BGR image (H and W multiples of 32).</summary>
public sealed class DetectorInput
{
    /// <summary>Gets or sets the pixels, [3,H,W].</summary>
    [ModelInput("x")]
    public float[,,] Pixels { get; set; } = new float[0, 0, 0];
}

/// <summary>The detector's output float32 [N,1,H,W]: the probability that a pixel is text.</summary>
public sealed class DetectorOutput
{
    /// <summary>Gets or sets the probability map, [1,H,W].</summary>
    [ModelOutput("sigmoid_0.tmp_0")]
    public float[,,] Map { get; set; } = new float[0, 0, 0];
}

/// <summary>
/// The classifier's input <c>x</c> float32 [N,3,H,W] (paddle2onnx leaves H and W free; the sample always sends
/// 48 × 192): one crop.
/// </summary>
public sealed class ClassifierInput
{
    /// <summary>Gets or sets the crop's pixels, [3,48,192] (a pooled array, <see cref="CropPool"/>).</summary>
    [ModelInput("x")]
    public float[,,] Pixels { get; set; } = new float[0, 0, 0];
}

/// <summary>The classifier's output float32 [N,2]: probabilities of 0° and 180°.</summary>
public sealed class ClassifierOutput
{
    /// <summary>Gets or sets the two probabilities.</summary>
    [ModelOutput("softmax_0.tmp_0")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>
/// The recognizer's input <c>x</c> float32 [N,3,H,W] (H and W free in the export; the sample sends 48 × one of
/// <see cref="OcrOptions.RecognitionWidths"/>): one crop. Crops of one shape share a run (the library's shape buckets).
/// </summary>
public sealed class RecognizerInput
{
    /// <summary>Gets or sets the crop's pixels, [3,48,W] (a pooled array, <see cref="CropPool"/>).</summary>
    [ModelInput("x")]
    public float[,,] Pixels { get; set; } = new float[0, 0, 0];
}

/// <summary>The recognizer's output float32 [N,W/8,6625]: per time step, the probability of each character (0 = CTC blank).</summary>
public sealed class RecognizerOutput
{
    /// <summary>Gets or sets the probabilities, [T,6625].</summary>
    [ModelOutput("softmax_11.tmp_0")]
    public float[,] Probabilities { get; set; } = new float[0, 0];
}
