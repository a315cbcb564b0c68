using ModelInService.BatchScoring;
using ModelInService.TestUtilities;

namespace ModelInService.BatchScoring.Tests;

public class LogEventIdTests
{
    [Fact]
    public void EveryLoggerMessage_IsNamedUniqueAndInTheRangeTheDocsGive()
    {
        // docs/operations.md: ModelInService.BatchScoring 5000-5099 (it logged ids 1-4 without names before).
        Assert.Empty(LogEventIds.Problems(typeof(BatchScorer).Assembly, (5000, 5099)));
    }
}
