using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModelInService.BatchScoring.Tests;

/// <summary>
/// A private PostgreSQL cluster for the test run: initdb and pg_ctl (from PATH, /usr/local/bin or
/// /usr/lib/postgresql/*/bin) on a free port in a temporary directory, stopped and deleted afterwards. As root it runs
/// the server as the 'postgres' (or 'nobody') user, since PostgreSQL refuses root. Without the binaries,
/// <see cref="SkipReason"/> says why and the tests skip.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private string? _directory;
    private string? _pgCtl;
    private string? _runAs;

    public string? ConnectionString { get; private set; }

    public string? SkipReason { get; private set; }

    public async Task InitializeAsync()
    {
        var bin = FindBinDirectory();
        if (bin is null)
        {
            SkipReason = "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin: install the 'postgresql' package (.ci/run does).";
            return;
        }

        _pgCtl = Path.Combine(bin, "pg_ctl");
        _directory = Path.Combine(Path.GetTempPath(), "mis-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        if (Environment.UserName == "root")
        {
            _runAs = await RunAsync("id", ["-u", "postgres"], null, throwOnError: false) == 0 ? "postgres" : "nobody";
            await RunAsync("chown", [_runAs, _directory], null);
        }

        var data = Path.Combine(_directory, "data");
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"], _runAs);
        var port = FreePort();
        await RunAsync(_pgCtl, ["-D", data, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", "start"], _runAs);
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false";
    }

    public async Task DisposeAsync()
    {
        if (_pgCtl is not null && _directory is not null && ConnectionString is not null)
        {
            await RunAsync(_pgCtl, ["-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop"], _runAs, throwOnError: false);
        }

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

    /// <summary>A fresh database for one test.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        Skip.If(SkipReason is not null, SkipReason);
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {name}; ", connection);
        await command.ExecuteNonQueryAsync();
        command.CommandText = $"CREATE DATABASE {name}";
        await command.ExecuteNonQueryAsync();
        return ConnectionString!.Replace("Database=postgres", $"Database={name}", StringComparison.Ordinal);
    }

    private static string? FindBinDirectory()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        candidates.Add("/usr/local/bin");
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")));
        }

        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<int> RunAsync(string file, string[] arguments, string? runAs, bool throwOnError = true)
    {
        var start = new ProcessStartInfo(runAs is null ? file : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        if (runAs is not null)
        {
            foreach (var a in new[] { "-u", runAs, "--", file })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
        }

        return process.ExitCode;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresTests : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
