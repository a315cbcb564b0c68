namespace ModelInService;

/// <summary>How a candidate version receives traffic.</summary>
public enum CandidateMode
{
    /// <summary>A share of requests is answered by the candidate (sticky by <see cref="PredictionOptions.RoutingKey"/>).</summary>
    Canary,
    /// <summary>The candidate runs on a copy of requests in the background; answers always come from the current version.</summary>
    Shadow,
}

/// <summary>How a candidate version is doing.</summary>
/// <param name="Version">The candidate generation.</param>
/// <param name="Mode">Canary or shadow.</param>
/// <param name="Share">The share of requests routed to it (canary) or mirrored to it (shadow: 1).</param>
/// <param name="Requests">Requests the candidate ran.</param>
/// <param name="Failures">Requests the candidate failed.</param>
/// <param name="Agreements">Shadow runs whose output agreed with the current version's (see docs/operations.md).</param>
/// <param name="Disagreements">Shadow runs whose output differed.</param>
/// <param name="Skipped">Shadow copies skipped because the candidate was busy (shadow never slows serving).</param>
public sealed record CandidateReport(ModelVersionInfo Version, CandidateMode Mode, double Share, long Requests, long Failures, long Agreements, long Disagreements, long Skipped)
{
    /// <summary>Gets the share of compared shadow runs that agreed, or NaN before any comparison.</summary>
    public double AgreementRate => Agreements + Disagreements == 0 ? double.NaN : Agreements / (double)(Agreements + Disagreements);
}
