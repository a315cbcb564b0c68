using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace ModelInService.Redis;

/// <summary>
/// The package's shared Redis connections: the app's own <see cref="IConnectionMultiplexer"/> when one is registered
/// in DI (every feature then uses it), otherwise one multiplexer per configuration string, connected on first use
/// (never at start-up, never on a request) with <c>abortConnect=false</c> so that a Redis that is down yields a
/// multiplexer that reconnects in the background rather than an exception. Disposed with the container.
/// </summary>
[DebuggerDisplay("RedisConnection: {_owned.Count} owned")]
internal sealed class RedisConnection : IAsyncDisposable
{
    /// <summary>The app's multiplexer, if it registered one (not disposed here: the app owns it).</summary>
    private readonly IConnectionMultiplexer? _shared;

    /// <summary>Serializes connecting, so that concurrent first uses share one multiplexer per configuration.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Multiplexers this holder connected, by configuration string. Written under <see cref="_gate"/>.</summary>
    private readonly Dictionary<string, IConnectionMultiplexer> _owned = new(StringComparer.Ordinal);

    public RedisConnection(IServiceProvider services) => _shared = services.GetService<IConnectionMultiplexer>();

    /// <summary>The multiplexer for <paramref name="configuration"/> (the app's one when registered).</summary>
    /// <exception cref="InvalidOperationException">No multiplexer is registered and <paramref name="configuration"/> is empty.</exception>
    public async ValueTask<IConnectionMultiplexer> GetAsync(string? configuration, CancellationToken cancellationToken)
    {
        if (_shared is not null)
        {
            return _shared;
        }

        if (string.IsNullOrWhiteSpace(configuration))
        {
            throw new InvalidOperationException("No Redis configuration: set the options' Configuration or register an IConnectionMultiplexer.");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_owned.TryGetValue(configuration, out var connection))
            {
                var options = ConfigurationOptions.Parse(configuration);

                // Down at start-up is an outage like any other: reconnect in the background, fail fast meanwhile.
                options.AbortOnConnectFail = false;
                connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
                _owned[configuration] = connection;
            }

            return connection;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _owned.Values)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _owned.Clear();
        _gate.Dispose();
    }
}
