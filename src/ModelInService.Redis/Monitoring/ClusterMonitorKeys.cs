using System.Globalization;
using StackExchange.Redis;

namespace ModelInService.Redis.Monitoring;

/// <summary>
/// The Redis keys of one model's cluster monitor. Every key carries the hash tag <c>{prefix:mon:model}</c>, so they
/// share one slot and the scripts may touch several of them on Redis Cluster.
/// </summary>
internal sealed class ClusterMonitorKeys(string prefix, string model)
{
    private readonly string _tag = "{" + prefix + ":mon:" + model + "}";

    /// <summary>Sorted set of interval entries: member <c>index:replica</c>, score the interval index.</summary>
    public RedisKey Index => _tag + ":idx";

    /// <summary>The lease: <c>fence:token</c> of the holder, with a PX expiry.</summary>
    public RedisKey Lease => _tag + ":lease";

    /// <summary>The fencing counter (INCR on every acquisition; never expires, so fences only grow).</summary>
    public RedisKey Fence => _tag + ":fence";

    /// <summary>Hash of the evaluation state: <c>fence</c> of the holder that wrote it, <c>state</c> (JSON).</summary>
    public RedisKey State => _tag + ":state";

    /// <summary>The member of interval <paramref name="index"/> of <paramref name="replica"/> in <see cref="Index"/>.</summary>
    public static string Member(long index, string replica) => index.ToString(CultureInfo.InvariantCulture) + ":" + replica;

    /// <summary>The entry (the interval's snapshot bytes) named by an index member.</summary>
    public RedisKey Entry(string member) => _tag + ":i:" + member;

    /// <summary>Parses a member's interval index; false for a member this library did not write.</summary>
    public static bool TryParseMember(string member, out long index)
    {
        index = 0;
        var colon = member.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && member.Length - colon - 1 is > 0 and <= RedisMonitoringOptionsValidator.MaxNameLength
            && long.TryParse(member.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }
}

/// <summary>The Lua scripts of the cluster monitor (each runs atomically on the server).</summary>
internal static class ClusterMonitorScripts
{
    /// <summary>
    /// Publishes one interval: the entry with TTL = retention, its member in the index, index entries older than the
    /// retention removed, the index's own TTL extended. KEYS: entry, index. ARGV: value, ttl ms, index, member, oldest kept index.
    /// </summary>
    public const string Publish = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        return 1
        """;

    /// <summary>
    /// Renews the lease when this token holds it (compare-and-pexpire) and returns its fence; otherwise takes it when
    /// free (SET NX PX) with a new fence from the counter; returns 0 when another token holds it.
    /// KEYS: lease, fence counter. ARGV: token, period ms.
    /// </summary>
    public const string AcquireOrRenew = """
        local v = redis.call('GET', KEYS[1])
        if v then
          local sep = string.find(v, ':', 1, true)
          if sep and string.sub(v, sep + 1) == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return tonumber(string.sub(v, 1, sep - 1))
          end
          return 0
        end
        if redis.call('SET', KEYS[1], 'acquiring', 'NX', 'PX', ARGV[2]) then
          local f = redis.call('INCR', KEYS[2])
          redis.call('SET', KEYS[1], f .. ':' .. ARGV[1], 'PX', ARGV[2])
          return f
        end
        return 0
        """;

    /// <summary>
    /// Writes the evaluation state only while this holder's lease is current and no later fence has written
    /// (so a stale holder can neither overwrite the state nor, since it raises only after this succeeds, raise twice).
    /// KEYS: lease, state. ARGV: lease value (fence:token), fence, state JSON, state TTL ms. Returns 1 when written.
    /// </summary>
    public const string Commit = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        local current = redis.call('HGET', KEYS[2], 'fence')
        if current and tonumber(current) > tonumber(ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[2], 'fence', ARGV[2], 'state', ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        return 1
        """;

    /// <summary>Deletes the lease when this holder still holds it (graceful stop). KEYS: lease. ARGV: lease value.</summary>
    public const string Release = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;
}
