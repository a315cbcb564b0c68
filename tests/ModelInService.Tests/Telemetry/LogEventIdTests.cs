using System.Reflection;
using Microsoft.Extensions.Logging;

namespace ModelInService.Tests.Telemetry;

public class LogEventIdTests
{
    [Fact]
    public void EveryLoggerMessage_HasAUniqueEventIdAndName()
    {
        var messages = typeof(ModelBuilder).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();

        Assert.True(messages.Count >= 10, $"found only {messages.Count} log messages");
        Assert.All(messages, m => Assert.False(string.IsNullOrEmpty(m.Attribute!.EventName), $"{m.Method.Name} has no EventName"));
        var duplicateIds = messages.GroupBy(m => m.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(x => x.Method.Name))}");
        Assert.Empty(duplicateIds);
        var duplicateNames = messages.GroupBy(m => m.Attribute!.EventName).Where(g => g.Count() > 1).Select(g => g.Key);
        Assert.Empty(duplicateNames);
    }

    [Fact]
    public void EveryLoggerMessage_IsInTheCoreRangesTheDocsGive()
    {
        // docs/operations.md: 1000-1099 runtime, 3000-3099 monitor, 4000-4099 streaming.
        Assert.Empty(TestUtilities.LogEventIds.Problems(typeof(ModelBuilder).Assembly, (1000, 1099), (3000, 3099), (4000, 4099)));
    }
}
