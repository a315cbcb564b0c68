using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace SemanticSearch;

/// <summary>What counts as a query.</summary>
public static class SearchQuery
{
    /// <summary>
    /// Whether <paramref name="q"/> has a character the tokenizer keeps: not only white space, control characters
    /// (NUL, DEL) or invisible format characters (zero-width space, joiners, BOM), which all tokenize to nothing and
    /// would be searched as an empty text, answering unrelated sentences.
    /// </summary>
    /// <param name="q">The query text, or null.</param>
    /// <returns>True when there is something to search for.</returns>
    public static bool HasText([NotNullWhen(true)] string? q)
    {
        if (q is null)
        {
            return false;
        }

        foreach (var c in q)
        {
            if (!char.IsWhiteSpace(c) && !char.IsControl(c) && CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.Format)
            {
                return true;
            }
        }

        return false;
    }
}
