using BenchmarkDotNet.Running;
using ModelInService.Benchmarks;
using ModelInService.Benchmarks.Load;

if (args.Length > 0 && args[0] == "pool")
{
    return await PoolComparison.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "http")
{
    return await HttpBench.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "http-client")
{
    return await HttpBench.ClientAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "scaling")
{
    return await ScalingCommand.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "scaling-mem")
{
    return await ScalingCommand.MemoryChildAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "embeddings")
{
    return await EmbeddingLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "l2-cache")
{
    return await L2CacheLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "aot")
{
    return await AotCommand.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "load")
{
    return await LoadCommand.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(PredictOverheadBenchmarks).Assembly).Run(args);
return 0;
