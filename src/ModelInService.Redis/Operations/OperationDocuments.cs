using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelInService.Redis.Operations;

/// <summary>The desired state stored under <c>{{prefix}:{model}}:desired</c> (field <c>state</c>; field <c>revision</c> beside it).</summary>
internal sealed class DesiredDocument
{
    public string Origin { get; set; } = "";

    public string Operation { get; set; } = "";

    public long IssuedAtMs { get; set; }

    public string ServingSha256 { get; set; } = "";

    public string? ServingFile { get; set; }

    public string? ServingName { get; set; }

    public bool Pinned { get; set; }

    public string? CandidateSha256 { get; set; }

    public string? CandidateFile { get; set; }

    public CandidateMode? CandidateMode { get; set; }

    public double CandidateShare { get; set; }

    public ModelDesiredState ToPublic(long revision) => new()
    {
        Revision = revision,
        Origin = Origin,
        Operation = Operation,
        IssuedAt = DateTimeOffset.FromUnixTimeMilliseconds(IssuedAtMs),
        ServingSha256 = ServingSha256,
        ServingFile = ServingFile,
        ServingName = ServingName,
        Pinned = Pinned,
        CandidateSha256 = CandidateSha256,
        CandidateFile = CandidateFile,
        CandidateMode = CandidateMode,
        CandidateShare = CandidateShare,
    };
}

/// <summary>A replica's heartbeat under <c>{{prefix}:{model}}:replica:{id}</c>, with a TTL.</summary>
internal sealed class HeartbeatDocument
{
    public string ReplicaId { get; set; } = "";

    public long Version { get; set; }

    public string Sha256 { get; set; } = "";

    public string Source { get; set; } = "";

    public string? VersionName { get; set; }

    public bool Pinned { get; set; }

    public string? CandidateSha256 { get; set; }

    public long AppliedRevision { get; set; }

    public string? Error { get; set; }

    public long AtMs { get; set; }

    public ModelReplicaState ToPublic() => new()
    {
        ReplicaId = ReplicaId,
        Version = Version,
        Sha256 = Sha256,
        Source = Source,
        VersionName = VersionName,
        Pinned = Pinned,
        CandidateSha256 = CandidateSha256,
        AppliedRevision = AppliedRevision,
        Error = Error,
        At = DateTimeOffset.FromUnixTimeMilliseconds(AtMs),
    };
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(DesiredDocument))]
[JsonSerializable(typeof(HeartbeatDocument))]
internal sealed partial class OperationsJson : JsonSerializerContext;

/// <summary>Reads documents from Redis as untrusted input: bounded, parsed whole, checked field by field; anything else is refused.</summary>
internal static class OperationDocuments
{
    /// <summary>Larger than any real document (two paths, two hashes, a name); larger values are refused unread.</summary>
    public const int MaxBytes = 16 * 1024;

    public static bool TryReadDesired(string? json, out DesiredDocument document, out string? error)
    {
        document = null!;
        if (!TryParse(json, OperationsJson.Default.DesiredDocument, out var parsed, out error))
        {
            return false;
        }

        if (string.IsNullOrEmpty(parsed.Origin) || !IsSha(parsed.ServingSha256) || parsed.Operation.Length is 0 or > 64)
        {
            error = "the desired state lacks its origin, operation or serving SHA-256";
            return false;
        }

        if (parsed.CandidateSha256 is not null && (!IsSha(parsed.CandidateSha256) || parsed.CandidateMode is null
            || parsed.CandidateShare is < 0 or > 1 || double.IsNaN(parsed.CandidateShare)))
        {
            error = "the desired state's candidate is malformed (SHA-256, mode, or a share outside 0..1)";
            return false;
        }

        if (!IsPath(parsed.ServingFile) || !IsPath(parsed.CandidateFile))
        {
            error = "the desired state names a file that is not an absolute path";
            return false;
        }

        document = parsed;
        return true;
    }

    public static bool TryReadHeartbeat(string? json, out HeartbeatDocument document)
    {
        document = null!;
        if (!TryParse(json, OperationsJson.Default.HeartbeatDocument, out var parsed, out _) || string.IsNullOrEmpty(parsed.ReplicaId))
        {
            return false;
        }

        document = parsed;
        return true;
    }

    private static bool TryParse<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, out T value, out string? error)
        where T : class
    {
        value = null!;
        if (string.IsNullOrEmpty(json) || json.Length > MaxBytes)
        {
            error = json is null ? "missing" : $"{json.Length} characters (at most {MaxBytes})";
            return false;
        }

        try
        {
            value = JsonSerializer.Deserialize(json, type)!;
            error = value is null ? "null document" : null;
            return value is not null;
        }
        catch (JsonException ex)
        {
            error = "not a valid document: " + ex.Message;
            return false;
        }
    }

    private static bool IsSha(string? value) => value is { Length: 16 } && value.All(char.IsAsciiHexDigitLower);

    private static bool IsPath(string? value) => value is null || (value.Length <= 4096 && Path.IsPathFullyQualified(value));
}
