using ModelInService.TestUtilities;

namespace ModelInService.Redis.Tests;

public class LogEventIdTests
{
    [Fact]
    public void EveryLoggerMessage_IsNamedUniqueAndInTheRangesTheDocsGive()
    {
        // docs/operations.md: ModelInService.Redis 1600-1699 and 3100-3199.
        Assert.Empty(LogEventIds.Problems(typeof(RedisCacheOptions).Assembly, (1600, 1699), (3100, 3199)));
    }
}
