using ModelInService.TestUtilities;

namespace ModelInService.AI.Tests;

public class LogEventIdTests
{
    [Fact]
    public void EveryLoggerMessage_IsNamedUniqueAndInTheRangeTheDocsGive()
    {
        // docs/operations.md: ModelInService.AI 7000-7099.
        Assert.Empty(LogEventIds.Problems(typeof(EmbeddingModelOptions).Assembly, (7000, 7099)));
    }
}
