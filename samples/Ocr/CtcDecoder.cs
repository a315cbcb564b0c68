using System.Text;

namespace Ocr;

/// <summary>
/// Greedy CTC decoding with PaddleOCR's character table (<c>ppocr/postprocess/rec_postprocess.py</c> CTCLabelDecode):
/// index 0 is the blank, then one character per line of <c>ppocr_keys_v1.txt</c>, then a space (PaddleOCR's
/// <c>use_space_char</c>, on for this model): 1 + 6,623 + 1 = 6,625 classes, the recognizer's last dimension.
/// At each time step the most likely class is taken; repeats of the previous step and blanks are dropped; the
/// score is the mean probability of the characters kept.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
public sealed class CtcDecoder
{
    private readonly string[] characters;

    /// <summary>Reads the dictionary, one character per line.</summary>
    /// <param name="dictionaryPath">The path of <c>ppocr_keys_v1.txt</c>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public CtcDecoder(string dictionaryPath)
    {
        var lines = File.ReadAllLines(dictionaryPath, Encoding.UTF8);
        characters = ["", .. lines, " "];
    }

    /// <summary>Gets the number of classes: blank, the dictionary and the space.</summary>
    public int ClassCount => characters.Length;

    /// <summary>Decodes one crop's [T,C] probabilities.</summary>
    /// <param name="probabilities">The recognizer's output for one crop.</param>
    /// <returns>The text and its score (0 when no character was read).</returns>
    /// <exception cref="InvalidOperationException">The model's class count is not the dictionary's.</exception>
    public (string Text, float Score) Decode(float[,] probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        var steps = probabilities.GetLength(0);
        var classes = probabilities.GetLength(1);
        if (classes != characters.Length)
        {
            throw new InvalidOperationException(
                $"The recognizer has {classes} classes but the dictionary gives {characters.Length} (blank + {characters.Length - 2} characters + space): use the dictionary that belongs to the model.");
        }

        var text = new StringBuilder();
        double sum = 0;
        var kept = 0;
        var previous = 0;
        for (var t = 0; t < steps; t++)
        {
            var best = 0;
            var bestP = probabilities[t, 0];
            for (var c = 1; c < classes; c++)
            {
                var p = probabilities[t, c];
                if (p > bestP)
                {
                    best = c;
                    bestP = p;
                }
            }

            if (best != 0 && best != previous)
            {
                text.Append(characters[best]);
                sum += bestP;
                kept++;
            }

            previous = best;
        }

        return (text.ToString(), kept == 0 ? 0f : (float)(sum / kept));
    }
}
