namespace ModelInService;

/// <summary>
/// Finds a lone surrogate in a string input: UTF-16 that has no UTF-8 form, which ONNX Runtime (string tensors are
/// UTF-8) would silently replace with U+FFFD, so the model would see another text than the caller sent.
/// </summary>
internal static class Utf16Check
{
    /// <summary>The index of the first unpaired surrogate in <paramref name="text"/>, or -1 (one vectorized scan when there is none).</summary>
    public static int FirstUnpairedSurrogate(ReadOnlySpan<char> text)
    {
        var i = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
        {
            return -1;
        }

        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                return i;
            }

            if (char.IsLowSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The reason a string with an unpaired surrogate at <paramref name="index"/> is refused.</summary>
    public static string Reason(int index) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"has an unpaired surrogate at character {index} (not valid UTF-16, so it has no UTF-8 form; ONNX Runtime would replace it with U+FFFD)");
}
