using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ModelInService.Tool;

/// <summary>
/// The logger factory the tool hands the library while it loads a model: it keeps the load-time decisions that only
/// a log line reports (the ZipMap removal: events <c>ZipMapRemoved</c> 1017 and <c>ZipMapKept</c> 1018), so that
/// <c>mis inspect</c> shows them, and ONNX Runtime's own warnings and errors, which the library relays as event
/// <c>OnnxRuntimeMessage</c> 1019 (each distinct message once). Everything else is dropped.
/// </summary>
internal sealed class DecisionLog : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<string> _runtime = new();
    private readonly ConcurrentDictionary<string, bool> _runtimeSeen = new(StringComparer.Ordinal);
    private readonly string _prefix;

    /// <param name="modelName">The registration name; its "Model 'name': " prefix is cut from the lines.</param>
    public DecisionLog(string modelName) => _prefix = $"Model '{modelName}': ";

    /// <summary>The decisions in the order they were logged.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>ONNX Runtime's messages about the model, "level: message (code location)", each distinct one once.</summary>
    public IReadOnlyList<string> RuntimeMessages => [.. _runtime];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
        // Nothing else is written anywhere: the tool prints its report, not the library's log.
    }

    public void Dispose()
    {
    }

    private void Add(string message) =>
        _lines.Enqueue(message.StartsWith(_prefix, StringComparison.Ordinal) ? message[_prefix.Length..] : message);

    private void AddRuntime(LogLevel level, string message, string location)
    {
        var line = $"{(level >= LogLevel.Error ? "error" : "warning")}: {message} ({location})";
        if (_runtimeSeen.TryAdd(line, true))
        {
            _runtime.Enqueue(line);
        }
    }

    private sealed class Logger(DecisionLog owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id is 1017 or 1018)
            {
                owner.Add(formatter(state, exception));
            }
            else if (eventId.Id == 1019 && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                string message = string.Empty, location = string.Empty;
                foreach (var (key, value) in fields)
                {
                    if (key == "OrtMessage")
                    {
                        message = value as string ?? string.Empty;
                    }
                    else if (key == "CodeLocation")
                    {
                        location = value as string ?? string.Empty;
                    }
                }

                owner.AddRuntime(logLevel, message, location);
            }
        }
    }
}
