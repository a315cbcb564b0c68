using Microsoft.Extensions.Hosting;

namespace ModelInService.Hosting;

/// <summary>Loads, validates and warms up every registered model when the host starts, before it serves requests.</summary>
internal sealed class ModelLoaderHostedService(ModelRegistry registry) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => registry.StartAsync(cancellationToken);

    /// <summary>Drains the batchers: hosted services stop in reverse order, so the web server has stopped accepting by now.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => registry.StopAsync().WaitAsync(cancellationToken);
}
