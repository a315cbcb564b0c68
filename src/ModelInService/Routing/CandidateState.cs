using System.IO.Hashing;
using System.Runtime.InteropServices;
using ModelInService.Sessions;

namespace ModelInService.Routing;

/// <summary>A candidate generation under canary or shadow, with its counters.</summary>
internal sealed class CandidateState(ModelRuntime runtime, CandidateMode mode, double share)
{
    private long _requests;
    private long _failures;
    private long _agreements;
    private long _disagreements;
    private long _skipped;

    public ModelRuntime Runtime { get; } = runtime;

    public CandidateMode Mode { get; } = mode;

    public double Share { get; } = share;

    /// <summary>Whether this request goes to the canary: the routing key's hash, or a random draw, below the share.</summary>
    public bool Routes(string? routingKey)
    {
        double draw;
        if (routingKey is null)
        {
            draw = Random.Shared.NextDouble();
        }
        else
        {
            var hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(routingKey.AsSpan()));
            draw = (hash >> 11) * (1.0 / (1UL << 53));
        }

        return draw < Share;
    }

    public void Ran(bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
        }
    }

    public void Compared(bool agreed) => Interlocked.Increment(ref agreed ? ref _agreements : ref _disagreements);

    public void Skip() => Interlocked.Increment(ref _skipped);

    public CandidateReport Report() => new(Runtime.Info, Mode, Share, Interlocked.Read(ref _requests), Interlocked.Read(ref _failures),
        Interlocked.Read(ref _agreements), Interlocked.Read(ref _disagreements), Interlocked.Read(ref _skipped));
}
