using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Sessions;

/// <summary>
/// The process-wide CPU arena that sessions with <see cref="ModelOptions.UseSharedAllocator"/> allocate from
/// (ONNX Runtime's environment allocator). Registered once, by the first model that asks; it lives as long as the
/// ONNX Runtime environment (the process).
/// </summary>
internal static class SharedAllocator
{
    private static readonly Lock s_gate = new();

    /// <summary>The limit it was created with; null until registered.</summary>
    private static long? s_maxBytes;

    public static bool IsRegistered
    {
        get
        {
            lock (s_gate)
            {
                return s_maxBytes is not null;
            }
        }
    }

    public static void EnsureRegistered(string modelName, long maxBytes, ILogger logger)
    {
        lock (s_gate)
        {
            if (s_maxBytes is { } existing)
            {
                if (existing != maxBytes)
                {
                    Log.SharedAllocatorMismatch(logger, modelName, maxBytes, existing);
                }

                return;
            }

            // -1: ONNX Runtime's defaults for the extend strategy, the first chunk and the dead bytes per chunk.
            using var arena = new OrtArenaCfg((uint)maxBytes, -1, -1, -1);
            try
            {
                OnnxRuntimeLog.Environment().CreateAndRegisterAllocator(OrtMemoryInfo.DefaultInstance, arena);
            }
            catch (OnnxRuntimeException ex) when (ex.Message.Contains("already", StringComparison.OrdinalIgnoreCase))
            {
                // Registered by the application itself before any model loaded: sessions use that one.
                s_maxBytes = -1;
                return;
            }

            s_maxBytes = maxBytes;
            Log.SharedAllocatorCreated(logger, modelName, maxBytes);
        }
    }
}
