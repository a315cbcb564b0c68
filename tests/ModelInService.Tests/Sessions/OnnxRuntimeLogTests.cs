using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Sessions;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Sessions;

/// <summary>ONNX Runtime's own warnings reach the model's ILogger (event 1019), not the process's standard error.</summary>
public class OnnxRuntimeLogTests
{
    // An opset-6 export: ONNX Runtime warns that its transpose optimizer cannot handle the opset, then refuses the model.
    private static readonly string[] OldOpsetModel = ["negative", "pytorch-converted", "test_Linear", "model.onnx"];

    [SkippableFact]
    public async Task OrtWarning_ReachesTheModelsLogger_WithTheModelsName()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        Assert.True(OnnxRuntimeLog.Routed, "the test assembly's module initializer lets the library create ONNX Runtime's environment");
        var collector = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        builder.Logging.AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddModel<IrisInput, IrisOutput>("old-opset-linear", o => o.Source = ModelSource.FromFile(SharedData.Model(OldOpsetModel)));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());

        Assert.Contains("Gemm(6)", ex.Message);
        var messages = collector.GetSnapshot().Where(r => r.Id.Name == "OnnxRuntimeMessage" && r.Message.Contains("(old-opset-linear,", StringComparison.Ordinal)).ToList();
        Assert.All(messages, m => Assert.Equal(1019, m.Id.Id));
        var optimizer = messages.Find(m => m.Message.Contains("transpose_optimizer.cc", StringComparison.Ordinal) && m.Message.Contains("Unsupported ONNX opset: 6", StringComparison.Ordinal));
        Assert.NotNull(optimizer);
        Assert.Equal(LogLevel.Warning, optimizer.Level);
        var opset = Assert.Single(messages, m => m.Message.Contains("opset version 7 or above", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, opset.Level);
    }

    [SkippableFact]
    public async Task LoggerThatThrows_DoesNotTakeOnnxRuntimeDown()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var builder = TestModels.CreateBuilder();
        var provider = new ThrowingLoggerProvider();
        builder.Logging.AddProvider(provider);
        builder.Services.AddModel<IrisInput, IrisOutput>("old-opset-throwing-logger", o => o.Source = ModelSource.FromFile(SharedData.Model(OldOpsetModel)));
        using var host = builder.Build();

        // The logger throws on ONNX Runtime's message, inside a callback from native code: the callback swallows it, so
        // the process is still here and the load fails for the model's own reason.
        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("Gemm(6)", ex.Message);
        Assert.True(provider.OrtMessagesSeen > 0, "ONNX Runtime's warning was offered to the throwing logger");
    }

    [Fact]
    public void MessagesFromOnePlace_AreLimitedPerMinute_AndWhatWasHeldBackIsCounted()
    {
        // ONNX Runtime can warn on every run; a warning per batch must not flood the log.
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        var logId = "flood-" + Guid.NewGuid().ToString("N");
        OnnxRuntimeLog.Attach(logId, factory.CreateLogger("ModelInService"));
        const OrtLoggingLevel warning = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;

        for (var i = 0; i < 20; i++)
        {
            OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, "execution_frame.cc:1 VerifyOutputSizes", $"run {i}", 1_000 + i);
        }

        OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, "graph.cc:2 Other", "another place", 1_050); // its own budget
        var records = collector.GetSnapshot();
        Assert.Equal(OnnxRuntimeLog.PerMinute, records.Count(r => r.Message.Contains("VerifyOutputSizes", StringComparison.Ordinal)));
        Assert.Contains(records, r => r.Message.EndsWith(": run 4", StringComparison.Ordinal));
        Assert.DoesNotContain(records, r => r.Message.EndsWith(": run 5", StringComparison.Ordinal));
        Assert.Single(records, r => r.Message.EndsWith(": another place", StringComparison.Ordinal));

        // A minute after the first: the count of what was held back, then the message itself.
        collector.Clear();
        OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, "execution_frame.cc:1 VerifyOutputSizes", "run 20", 61_000);
        records = collector.GetSnapshot();
        Assert.Equal(2, records.Count);
        Assert.Equal("OnnxRuntimeMessagesHeldBack", records[0].Id.Name);
        Assert.Contains("15 more messages from here were not logged in the last minute", records[0].Message, StringComparison.Ordinal);
        Assert.EndsWith(": run 20", records[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MessagesOfALoad_PassTheMinutesLimit_EachDistinctOnce()
    {
        // A tool or a test host loading many models of one name (the mis tool's "model") in a minute must still see each
        // load's warnings: a CI run lost an old-opset export's warning from mis inspect's error this way.
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        var logId = "load-" + Guid.NewGuid().ToString("N");
        OnnxRuntimeLog.Attach(logId, factory.CreateLogger("ModelInService"));
        const OrtLoggingLevel warning = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;
        const string location = "model.cc:1 Load";
        for (var i = 0; i < 2 * OnnxRuntimeLog.PerMinute; i++)
        {
            OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, location, "old opset", 1_000 + i); // outside loads: limited
        }

        for (var load = 0; load < 3; load++)
        {
            collector.Clear();
            using (OnnxRuntimeLog.BeginLoad())
            {
                for (var copy = 0; copy < 4; copy++)
                {
                    OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, location, "old opset", 2_000 + load); // one per session copy
                }

                OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, location, "another message", 2_000 + load);
            }

            var records = collector.GetSnapshot();
            Assert.Single(records, r => r.Message.EndsWith(": old opset", StringComparison.Ordinal));
            Assert.Single(records, r => r.Message.EndsWith(": another message", StringComparison.Ordinal));
            Assert.Equal(2, records.Count);
        }

        collector.Clear();
        OnnxRuntimeLog.Relay(warning, "onnxruntime", logId, location, "old opset", 3_000); // the load ended: limited again
        Assert.Empty(collector.GetSnapshot());
    }

    [Fact]
    public void TwoLoadsUnderOneName_EachGetsItsOwnMessages_ThoughTheLastAttachWins()
    {
        // mis inspect registers every model as "model": a second load attached its logger under that log id while the
        // first loaded, and the first load's warnings went to the second (a flaky inspect test).
        var first = new FakeLogCollector();
        var second = new FakeLogCollector();
        using var firstFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(first)));
        using var secondFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(second)));
        var logId = "same-" + Guid.NewGuid().ToString("N");
        var firstLogger = firstFactory.CreateLogger("ModelInService");
        OnnxRuntimeLog.Attach(logId, firstLogger);
        OnnxRuntimeLog.Attach(logId, secondFactory.CreateLogger("ModelInService")); // the other load, on another thread

        using (OnnxRuntimeLog.BeginLoad(firstLogger))
        {
            OnnxRuntimeLog.Relay(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "onnxruntime", logId, "model.cc:1 Load", "old opset", 1_000);
        }

        Assert.Single(first.GetSnapshot(), r => r.Message.EndsWith(": old opset", StringComparison.Ordinal));
        Assert.Empty(second.GetSnapshot());
    }

    private sealed class ThrowingLoggerProvider : ILoggerProvider, ILogger
    {
        private int _ortMessagesSeen;

        public int OrtMessagesSeen => Volatile.Read(ref _ortMessagesSeen);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 1019)
            {
                Interlocked.Increment(ref _ortMessagesSeen);
                throw new ObjectDisposedException("logger", "a provider disposed with its host");
            }
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>Lets the library create ONNX Runtime's process-wide environment before any test creates a session directly.</summary>
internal static class OnnxRuntimeLogSetup
{
#pragma warning disable CA2255 // A test assembly's initializer: ONNX Runtime takes its logging function only when the environment is created.
    [ModuleInitializer]
    internal static void CreateEnvironment() => OnnxRuntimeLog.Environment();
#pragma warning restore CA2255
}
