namespace ModelInService.Hosting;

/// <summary>
/// Reloads a model when its file changes: file-system events restart a debounce timer (on the injected clock), and
/// when the file has been quiet for <see cref="ModelOptions.ReloadDebounce"/> the host reloads it. A half-written file
/// simply fails to load (the old version keeps serving, ReloadFailed is raised) and the next write tries again.
/// </summary>
internal sealed class ModelFileWatcher : IDisposable
{
    private readonly ModelHost _host;
    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _timer;
    private readonly TimeSpan _debounce;
    private int _disposed;

    public ModelFileWatcher(ModelHost host, string path, TimeSpan debounce)
    {
        _host = host;
        _debounce = debounce;
        Path = System.IO.Path.GetFullPath(path);
        _timer = host.Time.CreateTimer(static s => ((ModelFileWatcher)s!).OnQuiet(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        _watcher.Changed += OnChanged;
        _watcher.Created += OnChanged;
        _watcher.Renamed += OnChanged;
        _watcher.EnableRaisingEvents = true;
    }

    public string Path { get; }

    /// <summary>Restarts the quiet period (also called by tests instead of a real file event).</summary>
    public void Touch()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _watcher.Dispose();
        _timer.Dispose();
    }

    private void OnChanged(object sender, FileSystemEventArgs e) => Touch();

    private void OnQuiet()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _ = ReloadAsync();
    }

    private async Task ReloadAsync()
    {
        try
        {
            if (_host.SkipWatchedReload())
            {
                return;
            }

            _host.LogFileChanged(Path);
            await _host.ReloadWatchedFileAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failed reload is logged and raised as ReloadFailed by the host; the old version keeps serving.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
