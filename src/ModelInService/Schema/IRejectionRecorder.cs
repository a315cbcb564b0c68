namespace ModelInService.Schema;

/// <summary>
/// Where the validation stage counts requests it rejected and predictions whose output was non-finite (the monitor's
/// recorder implements it, so rejections count toward the schema-violation rule).
/// </summary>
internal interface IRejectionRecorder
{
    /// <summary>Counts <paramref name="requests"/> failed requests (default one).</summary>
    void RecordRejected(int requests = 1);
}
