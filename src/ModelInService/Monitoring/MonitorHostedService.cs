using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelInService.Hosting;

namespace ModelInService.Monitoring;

/// <summary>
/// Drives the monitors: at start, loads each reference file and restores each snapshot (a corrupt one is reported,
/// moved aside and skipped); then evaluates on a <see cref="TimeProvider"/> timer and writes snapshots; at stop,
/// first stops the models' batchers (so every accepted prediction is answered and recorded), then flushes and writes
/// a final snapshot. Modelled on aspnetcore's HealthCheckPublisherHostedService.
/// </summary>
internal sealed class MonitorHostedService : IHostedService, IDisposable
{
    private readonly MonitorRegistry _registry;

    /// <summary>The models, drained before the final snapshot (hosted services stop in reverse order, so the monitor's stops before the loader's).</summary>
    private readonly ModelRegistry? _models;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string? _contentRoot;

    /// <summary>Canceled when the host stops: ends evaluations and handler runs in progress.</summary>
    private readonly CancellationTokenSource _stopping = new();

    private readonly List<ITimer> _timers = [];

    /// <summary>The evaluation in progress per monitor (a tick is skipped while the previous one runs).</summary>
    private readonly Dictionary<ModelMonitor, Task> _running = [];

    private readonly Lock _runningLock = new();

    public MonitorHostedService(MonitorRegistry registry, ILoggerFactory? loggerFactory = null, IHostEnvironment? environment = null, TimeProvider? timeProvider = null, ModelRegistry? models = null)
    {
        _registry = registry;
        _models = models;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService.Monitoring");
        _time = timeProvider ?? TimeProvider.System;
        _contentRoot = environment?.ContentRootPath;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var monitor in _registry.Monitors)
        {
            monitor.LogMonitoredMembers();
            if (!_registry.IsPipelineMonitor(monitor))
            {
                // A pipeline's monitor shares its model's options: its keys are checked once, against both.
                monitor.WarnOnUnknownFeatureKeys(_registry.Find(PipelineRegistration.MonitorName(monitor.ModelName)));
            }

            LoadReference(monitor);
            Restore(monitor);
            var period = monitor.Options.EvaluationInterval;
            _timers.Add(_time.CreateTimer(static state => ((MonitorHostedService)((object[])state!)[0]).OnTimer((ModelMonitor)((object[])state!)[1]), new object[] { this, monitor }, period, period));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var timer in _timers)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        _timers.Clear();
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_runningLock)
        {
            running = [.. _running.Values];
        }

        try
        {
            await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown timed out; write what we have.
        }

        if (_models is not null)
        {
            try
            {
                // Stop accepting and drain the batchers (idempotent: the loader's stop awaits the same drain), so the
                // final snapshot holds every prediction that was answered.
                await _models.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                foreach (var monitor in _registry.Monitors)
                {
                    await ((RecorderBase)monitor.Recorder).WhenRecordedAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown timed out; write what we have.
            }
        }

        foreach (var monitor in _registry.Monitors)
        {
            try
            {
                await monitor.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Persist what has been profiled.
            }

            Persist(monitor);
        }
    }

    public void Dispose()
    {
        foreach (var timer in _timers)
        {
            timer.Dispose();
        }

        _stopping.Dispose();
    }

    /// <summary>Runs one evaluation and snapshot for <paramref name="monitor"/> (the timer's work; tests call it directly).</summary>
    internal async Task RunOnceAsync(ModelMonitor monitor)
    {
        // Off the timer thread before doing any work.
        await Task.Yield();
        try
        {
            await monitor.EvaluateAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return; // Stopping: StopAsync persists.
        }
#pragma warning disable CA1031 // The timer must keep running after a failed evaluation.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MonitorLog.EvaluationFailed(_logger, monitor.ModelName, ex);
        }

        // Whatever the evaluation did: the profiles recorded since the last snapshot are saved (a crash loses at most
        // one evaluation interval, as documented, even while evaluations fail).
        try
        {
            Persist(monitor);
        }
#pragma warning disable CA1031 // Persist logs its own failures; nothing may stop the timer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MonitorLog.EvaluationFailed(_logger, monitor.ModelName, ex);
        }
    }

    internal string? SnapshotPath(ModelMonitor monitor)
    {
        if (monitor.Options.SnapshotDirectory is not { } directory)
        {
            return null;
        }

        var name = string.Concat(monitor.ModelName.Select(c => Path.GetInvalidFileNameChars().Contains(c) ? '_' : c));
        return Path.Combine(Resolve(directory), name + ".monitor");
    }

    private void OnTimer(ModelMonitor monitor)
    {
        lock (_runningLock)
        {
            if (_stopping.IsCancellationRequested || (_running.TryGetValue(monitor, out var previous) && !previous.IsCompleted))
            {
                return;
            }

            _running[monitor] = RunOnceAsync(monitor);
        }
    }

    private void LoadReference(ModelMonitor monitor)
    {
        if (monitor.Options.ReferencePath is not { } configured)
        {
            return;
        }

        var path = Resolve(configured);
        try
        {
            var reference = MonitorReference.Load(path);
            monitor.SetReference(reference);
            MonitorLog.ReferenceLoaded(_logger, monitor.ModelName, path, reference.Rows, reference.FeatureNames.Count, reference.ChunkCount);
        }
#pragma warning disable CA1031 // Never fatal: a bad reference file (a null list in its header throws NullReferenceException in the reader) must not stop the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MonitorLog.ReferenceLoadFailed(_logger, monitor.ModelName, path, ex);
        }
    }

    private void Restore(ModelMonitor monitor)
    {
        if (SnapshotPath(monitor) is { } path && File.Exists(path))
        {
            Restore(monitor, path, _time, _logger);
        }
    }

    /// <summary>
    /// Restores <paramref name="path"/> into <paramref name="monitor"/>. Never throws: whatever is wrong with the file
    /// (format, limits, overflow, I/O), it is logged and moved aside as <c>*.corrupt-&lt;UTC time&gt;</c>, and the
    /// monitor keeps an empty history (the merge is all or nothing). Returns whether the snapshot was restored.
    /// </summary>
    internal static bool Restore(ModelMonitor monitor, string path, TimeProvider time, ILogger logger)
    {
        try
        {
            MonitorSnapshot snapshot;
            using (var file = File.OpenRead(path))
            {
                snapshot = MonitorSnapshot.ReadFrom(file);
            }

            monitor.MergeSnapshot(snapshot);
            MonitorLog.SnapshotRestored(logger, monitor.ModelName, path, snapshot.IntervalCount, snapshot.Predictions);
            return true;
        }
#pragma warning disable CA1031 // Never fatal: the host must start whatever the file holds.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Keep the bad file for inspection under a name no later restore reads.
            var aside = path + ".corrupt-" + time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            try
            {
                File.Move(path, aside, overwrite: true);
            }
            catch (Exception moveError) when (moveError is IOException or UnauthorizedAccessException)
            {
                aside = "(could not be moved: " + moveError.Message + ")";
            }

            MonitorLog.SnapshotCorrupt(logger, monitor.ModelName, path, aside, ex);
            return false;
        }
    }

    private void Persist(ModelMonitor monitor)
    {
        if (SnapshotPath(monitor) is not { } path)
        {
            return;
        }

        var temporary = path + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = File.Create(temporary))
            {
                monitor.ExportSnapshot().WriteTo(file);
            }

            // Replace atomically: a crash mid-write leaves the previous snapshot intact.
            File.Move(temporary, path, overwrite: true);
        }
#pragma warning disable CA1031 // Any failure to write (I/O, or a value the file cannot hold) is logged: it must not stop the timer or StopAsync.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MonitorLog.SnapshotWriteFailed(_logger, monitor.ModelName, path, ex);
            TryDelete(temporary);
        }
    }

    /// <summary>Removes a half-written temporary file (best effort: the next write replaces it anyway).</summary>
    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next write to overwrite.
        }
    }

    private string Resolve(string path) => Path.IsPathRooted(path) || _contentRoot is null ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(_contentRoot, path));
}
