using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore;

/// <summary>
/// Puts a group of operator endpoints (monitor, admin) behind authorization, and fails when they are mapped, that is
/// at start-up, if authorization cannot work: without an authentication scheme or the authorization services, every
/// request to them would be answered 500 in production, which looks like an outage rather than a configuration gap.
/// </summary>
internal static class EndpointAuthorization
{
    public static void Require(RouteGroupBuilder group, IServiceProvider services, string? policy, bool allowAnonymous, string endpoints, string optionsType)
    {
        if (allowAnonymous)
        {
            group.AllowAnonymous();
            return;
        }

        if (services.GetService<IAuthorizationPolicyProvider>() is null)
        {
            throw new InvalidOperationException(
                $"The {endpoints} require authorization, but the authorization services are not registered: call builder.Services.AddAuthorization() "
                + $"and add an authentication scheme, or, only for a local or trusted-network deployment, set {optionsType}.AllowAnonymous = true.");
        }

        var schemes = services.GetService<IAuthenticationSchemeProvider>();
        if (schemes is null || !schemes.GetAllSchemesAsync().GetAwaiter().GetResult().Any())
        {
            throw new InvalidOperationException(
                $"The {endpoints} require authorization, but no authentication scheme is registered, so no caller could ever be authorized "
                + "(every request would fail with 500). Add a scheme, e.g. builder.Services.AddAuthentication().AddJwtBearer(...) (or cookies, "
                + $"certificates, Negotiate), or, only for a local or trusted-network deployment, set {optionsType}.AllowAnonymous = true.");
        }

        if (policy is not null && services.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(policy) is { IsCompletedSuccessfully: true, Result: null })
        {
            // The default provider answers at once; a provider that builds policies asynchronously is not waited for.
            throw new InvalidOperationException(
                $"The {endpoints} require the authorization policy '{policy}' ({optionsType}.AuthorizationPolicy), but no policy of that name is registered "
                + "(every request would fail with 500). Register it, e.g. builder.Services.AddAuthorization(o => o.AddPolicy(\"" + policy + "\", p => p.RequireRole(\"ops\"))), or fix the name.");
        }

        if (policy is null)
        {
            group.RequireAuthorization();
        }
        else
        {
            group.RequireAuthorization(policy);
        }
    }
}
