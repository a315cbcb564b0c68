using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Sessions;

/// <summary>
/// Routes ONNX Runtime's own log (its warnings and errors: graph optimizers that gave up, unused initializers, kernels
/// that fell back) into <see cref="ILogger"/> instead of the colored lines its default logger writes to the process's
/// standard error, where structured logging never sees them. ONNX Runtime has one environment per process and takes its
/// logging function only when the environment is created, so the library creates it on its first use of ONNX Runtime
/// (every path that creates a session or reads the environment goes through <see cref="Environment"/>). A process that
/// created the environment itself keeps ONNX Runtime's own logger; the library says so once per model (event 1020).
/// </summary>
/// <remarks>
/// Sessions are created with the model's name as their log id, so a message is written to the logger of the model it is
/// about (the last host that loaded a model of that name, when several in one process do); messages of the environment
/// itself, or of sessions the library did not create, go to the last attached logger, or to standard error before any.
/// One code location of one log id writes at most <see cref="PerMinute"/> messages a minute (see <see cref="Relay"/>),
/// except while a model loads (<see cref="BeginLoad"/>): what ONNX Runtime says while it creates a model's sessions (an
/// opset it only partly supports, an optimizer that gave up) is written whatever other loads said in the same minute,
/// each distinct message once per load. The callback never throws into native code.
/// </remarks>
internal static class OnnxRuntimeLog
{
    private static readonly Lock Gate = new();
    /// <summary>Messages written per minute from one code location of one log id; further ones are counted, not written.</summary>
    internal const int PerMinute = 5;

    private const int MaxGates = 4096;
    private static readonly ConcurrentDictionary<string, ILogger> ByLogId = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<(string LogId, string CodeLocation), FloodGate> Gates = new();

    // Kept in a static field: ONNX Runtime calls it from native code for the life of the process.
    private static readonly DOrtLoggingFunction Callback = OnMessage;
    private static volatile ILogger? s_last;

    // The messages already written by the load running on this thread (ONNX Runtime logs a session's creation on the
    // thread that creates it), or null outside a load.
    [ThreadStatic]
    private static HashSet<(string CodeLocation, string Message)>? t_load;

    // The logger of the load running on this thread: two loads under one name at once (the tool registers every model
    // as "model"; parallel tests, or a tool embedded in a server) replace each other's log-id entry, and a load's
    // warnings went to the other load's logger (a flaky inspect test). Null outside a load or when none is given.
    [ThreadStatic]
    private static ILogger? t_loadLogger;
    private static int s_state; // 0: not decided, 1: routed here, 2: the environment existed before the library's first use

    /// <summary>Gets whether ONNX Runtime's messages come here (the library created the environment).</summary>
    public static bool Routed => Volatile.Read(ref s_state) == 1;

    /// <summary>The process's ONNX Runtime environment, created with the routing logger when nothing created it before.</summary>
    public static OrtEnv Environment()
    {
        if (Volatile.Read(ref s_state) == 0)
        {
            lock (Gate)
            {
                if (s_state == 0)
                {
                    if (OrtEnv.IsCreated)
                    {
                        s_state = 2;
                    }
                    else
                    {
                        var options = new EnvironmentCreationOptions
                        {
                            logId = "ModelInService",
                            logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                            loggingFunction = Callback,
                        };
                        try
                        {
                            OrtEnv.CreateInstanceWithOptions(ref options);
                            s_state = 1;
                        }
                        catch (OnnxRuntimeException)
                        {
                            s_state = 2; // created by someone else between the check and the call
                        }
                    }
                }
            }
        }

        return OrtEnv.Instance();
    }

    /// <summary>
    /// Sends the messages of sessions created with log id <paramref name="logId"/> (the model's name) to
    /// <paramref name="logger"/>; creates the environment first if nothing has.
    /// </summary>
    public static void Attach(string logId, ILogger logger)
    {
        Environment();
        if (!Routed)
        {
            Log.OnnxRuntimeLogNotRouted(logger, logId);
            return;
        }

        ByLogId[logId] = logger;
        s_last = logger;
    }

    /// <summary>
    /// Starts a model's load on this thread until the scope is disposed: ONNX Runtime's messages while it lasts pass
    /// the per-minute limit (a load is rare, and its warnings often name why a model misbehaves or is refused, so one
    /// must not lose them because other loads of the same name warned from the same place within the minute), and a
    /// message repeated by the load (one per session copy, say) is written once.
    /// </summary>
    public static LoadScope BeginLoad(ILogger? logger = null)
    {
        var scope = new LoadScope(t_load, t_loadLogger);
        t_load = [];
        t_loadLogger = logger;
        return scope;
    }

    private static void OnMessage(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message) =>
        Relay(severity, category, logId, codeLocation, message, System.Environment.TickCount64);

    /// <summary>
    /// Writes one message, unless its code location already wrote <see cref="PerMinute"/> for this log id in the current
    /// minute: ONNX Runtime can warn on every run (a shape that disagrees with the model's metadata, say), and a
    /// warning per batch would flood the log and, with a console logger's bounded queue, stall the runs. What is held
    /// back is counted and reported (event 1021) with the first message of the next minute.
    /// </summary>
    internal static void Relay(OrtLoggingLevel severity, string? category, string? logId, string? codeLocation, string? message, long nowMilliseconds)
    {
        try
        {
            var level = severity switch
            {
                OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE => LogLevel.Trace,
                OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO => LogLevel.Debug,
                OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => LogLevel.Warning,
                OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => LogLevel.Error,
                _ => LogLevel.Critical,
            };
            logId ??= string.Empty;
            codeLocation ??= string.Empty;
            if (Gates.Count >= MaxGates)
            {
                Gates.Clear(); // bounded whatever ONNX Runtime logs from where
            }

            long heldBack = 0;
            if (t_load is { } load)
            {
                if (!load.Add((codeLocation, message ?? string.Empty)))
                {
                    return;
                }
            }
            else if (!Gates.GetOrAdd((logId, codeLocation), static _ => new FloodGate()).TryPass(nowMilliseconds, out heldBack))
            {
                return;
            }

            var logger = t_loadLogger ?? (ByLogId.TryGetValue(logId, out var attached) ? attached : null) ?? s_last;
            if (logger is null)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ONNX Runtime {level} [{logId}] {category} {codeLocation}: {message}"));
                return;
            }

            if (heldBack > 0)
            {
                Log.OnnxRuntimeMessagesHeldBack(logger, logId, codeLocation, heldBack, PerMinute);
            }

            Log.OnnxRuntimeMessage(logger, level, logId, category ?? string.Empty, codeLocation, message ?? string.Empty);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A logging provider that fails (disposed with its host, say) must not take ONNX Runtime's thread down.
        }
    }

    /// <summary>A load on one thread (<see cref="BeginLoad"/>); disposing it ends the load.</summary>
    internal readonly struct LoadScope : IDisposable
    {
        private readonly HashSet<(string CodeLocation, string Message)>? _outer;
        private readonly ILogger? _outerLogger;

        internal LoadScope(HashSet<(string CodeLocation, string Message)>? outer, ILogger? outerLogger) => (_outer, _outerLogger) = (outer, outerLogger);

        /// <summary>Ends the load: this thread's messages are limited per minute again and go by log id.</summary>
        public void Dispose() => (t_load, t_loadLogger) = (_outer, _outerLogger);
    }

    /// <summary>At most <see cref="PerMinute"/> messages a minute from one code location of one log id.</summary>
    private sealed class FloodGate
    {
        private readonly Lock _lock = new();
        private long _windowStart = long.MinValue;
        private int _passed;
        private long _heldBack;

        public bool TryPass(long now, out long heldBackBefore)
        {
            lock (_lock)
            {
                heldBackBefore = 0;
                if (_windowStart == long.MinValue || now - _windowStart >= 60_000)
                {
                    heldBackBefore = _heldBack;
                    _windowStart = now;
                    _passed = 0;
                    _heldBack = 0;
                }

                if (_passed < PerMinute)
                {
                    _passed++;
                    return true;
                }

                _heldBack++;
                heldBackBefore = 0;
                return false;
            }
        }
    }
}
