using System.Reflection;
using Microsoft.Extensions.Logging;

namespace ModelInService.TestUtilities;

/// <summary>Checks a package's <c>[LoggerMessage]</c> methods against the id ranges docs/operations.md gives it.</summary>
public static class LogEventIds
{
    /// <summary>
    /// What is wrong with the <c>[LoggerMessage]</c> methods of <paramref name="assembly"/>: a method without an event
    /// name, an id outside <paramref name="ranges"/>, an id or a name used twice. Empty when all is well.
    /// </summary>
    /// <param name="assembly">The package.</param>
    /// <param name="ranges">Its id ranges, inclusive.</param>
    /// <returns>One line per problem, or "no [LoggerMessage] found" when there is nothing to check.</returns>
    public static IReadOnlyList<string> Problems(Assembly assembly, params (int First, int Last)[] ranges)
    {
        var messages = assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: $"{m.DeclaringType?.FullName}.{m.Name}", Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()!))
            .Where(x => x.Attribute is not null)
            .ToList();
        if (messages.Count == 0)
        {
            return ["no [LoggerMessage] found"];
        }

        var problems = new List<string>();
        problems.AddRange(messages.Where(m => string.IsNullOrEmpty(m.Attribute.EventName)).Select(m => $"{m.Method} has no EventName"));
        problems.AddRange(messages
            .Where(m => !ranges.Any(r => m.Attribute.EventId >= r.First && m.Attribute.EventId <= r.Last))
            .Select(m => $"{m.Method} has id {m.Attribute.EventId}, outside {string.Join(", ", ranges.Select(r => $"{r.First}-{r.Last}"))}"));
        problems.AddRange(messages.GroupBy(m => m.Attribute.EventId).Where(g => g.Count() > 1).Select(g => $"id {g.Key} used by {string.Join(", ", g.Select(x => x.Method))}"));
        problems.AddRange(messages.Where(m => !string.IsNullOrEmpty(m.Attribute.EventName)).GroupBy(m => m.Attribute.EventName).Where(g => g.Count() > 1).Select(g => $"name {g.Key} used by {string.Join(", ", g.Select(x => x.Method))}"));
        return problems;
    }
}
