using BenchmarkDotNet.Running;
using ModelInService.Caching.Benchmarks;

if (args.Length > 0 && args[0] == "cache")
{
    return await CacheLoad.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(CacheHitBenchmarks).Assembly).Run(args);
return 0;
