using BenchmarkDotNet.Running;
using ModelInService.Benchmarks;

if (args.Length > 0 && args[0] == "pool")
{
    return await PoolComparison.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(PredictOverheadBenchmarks).Assembly).Run(args);
return 0;
