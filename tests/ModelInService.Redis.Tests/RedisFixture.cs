using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests;

/// <summary>
/// A private redis-server for the test run: started from PATH, /usr/bin or /usr/local/bin on a free loopback port with
/// no persistence, in a temporary directory, and killed afterwards. <see cref="StopServerAsync"/> and
/// <see cref="StartServerAsync"/> take it down and bring it back on the same port (the failure tests). Without the
/// binary, <see cref="SkipReason"/> says why and the tests skip.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private string? _server;
    private string? _directory;
    private Process? _process;

    /// <summary>The StackExchange.Redis configuration string of the server (host:port, short timeouts).</summary>
    public string? Configuration { get; private set; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Why the tests skip, or null when the server runs.</summary>
    public string? SkipReason { get; private set; }

    public async Task InitializeAsync()
    {
        _server = FindServer();
        if (_server is null)
        {
            SkipReason = "redis-server not found on PATH, in /usr/bin or /usr/local/bin: install the 'redis-server' package (.ci/run does).";
            return;
        }

        _directory = Path.Combine(Path.GetTempPath(), "mis-redis-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        Port = FreePort();
        Configuration = $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,syncTimeout=2000,asyncTimeout=2000";
        await StartServerAsync();
    }

    /// <summary>Skips the calling test when there is no server.</summary>
    public void SkipIfUnavailable() => Skip.If(SkipReason is not null, SkipReason);

    /// <summary>Starts the server (again) on <see cref="Port"/> and waits until it answers PING.</summary>
    public async Task StartServerAsync()
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        var start = new ProcessStartInfo(_server!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory!,
        };
        foreach (var a in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory!, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning" })
        {
            start.ArgumentList.Add(a);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                await using var connection = await ConnectionMultiplexer.ConnectAsync(Configuration!);
                await connection.GetDatabase().PingAsync();
                return;
            }
            catch (Exception e) when (e is SocketException or RedisException && DateTime.UtcNow < deadline)
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} on port {Port}.", e);
                }

                await Task.Delay(50);
            }
        }
    }

    /// <summary>Kills the server (as a crash would: no shutdown handshake).</summary>
    public async Task StopServerAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Deletes every key, so that tests sharing the server start empty.</summary>
    public async Task FlushAsync()
    {
        SkipIfUnavailable();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(Configuration + ",allowAdmin=true");
        await connection.GetServer("127.0.0.1", Port).FlushAllDatabasesAsync();
    }

    public async Task DisposeAsync()
    {
        await StopServerAsync();
        _process?.Dispose();
        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string? FindServer()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        candidates.Add("/usr/bin");
        candidates.Add("/usr/local/bin");
        return candidates.Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The tests that share one redis-server (run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class RedisTests : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
