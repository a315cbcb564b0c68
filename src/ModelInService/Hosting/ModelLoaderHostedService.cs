using Microsoft.Extensions.Hosting;

namespace ModelInService.Hosting;

/// <summary>Loads, validates and warms up every registered model when the host starts, before it serves requests.</summary>
internal sealed class ModelLoaderHostedService(ModelRegistry registry) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => registry.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken)
    {
        registry.Stop();
        return Task.CompletedTask;
    }
}
