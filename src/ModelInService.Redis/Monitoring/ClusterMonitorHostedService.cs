using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelInService.Redis.Monitoring;

/// <summary>
/// Runs every cluster monitor's synchronization on a <see cref="TimeProvider"/> timer (the first at once, so a replica
/// that starts late has the cluster history from its first seconds); at stop, waits for the running ones and gives
/// up the lease so that another replica takes over at its next synchronization rather than after the lease period.
/// </summary>
internal sealed class ClusterMonitorHostedService(
    ClusterMonitorRegistry registry,
    IEnumerable<RedisMonitoredModel> models,
    Microsoft.Extensions.Options.IOptionsMonitor<RedisMonitoringOptions> options,
    ILoggerFactory? loggerFactory = null,
    TimeProvider? timeProvider = null) : IHostedService, IDisposable
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService.Redis.Monitoring");

    /// <summary>Canceled at stop: ends synchronizations in progress.</summary>
    private readonly CancellationTokenSource _stopping = new();

    private readonly List<ITimer> _timers = [];

    /// <summary>The synchronization in progress per monitor (a tick is skipped while the previous one runs).</summary>
    private readonly Dictionary<ClusterMonitor, Task> _running = [];

    private readonly Lock _runningLock = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var model in models.Select(m => m.Name).Distinct(StringComparer.Ordinal))
        {
            var monitor = registry.Get(model);
            var period = options.Get(model).SyncInterval;
            _timers.Add(_time.CreateTimer(static state => ((ClusterMonitorHostedService)((object[])state!)[0]).OnTimer((ClusterMonitor)((object[])state!)[1]), new object[] { this, monitor }, TimeSpan.Zero, period));
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
            foreach (var monitor in registry.Monitors)
            {
                await monitor.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown timed out: the lease expires on its own.
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

    private void OnTimer(ClusterMonitor monitor)
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

    private async Task RunOnceAsync(ClusterMonitor monitor)
    {
        // Off the timer thread before any work.
        await Task.Yield();
        try
        {
            await monitor.SyncAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Stopping.
        }
#pragma warning disable CA1031 // The timer must keep running after a failed synchronization (Redis failures are handled inside; this is a bug's last stop).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClusterMonitorLog.SyncFailed(_logger, monitor.ModelName, ex);
        }
    }
}
