using System.Globalization;
using BenchmarkDotNet.Running;
using ModelInService.Sketches;
using ModelInService.Sketches.Benchmarks;

// Print the serialized sizes first (the size target), then run the benchmarks selected on the command line.
var random = new Random(42);
var sketch = new KllDoublesSketch(200, random);
var profile = FeatureProfile.CreateNumeric(200, new Random(42));
for (var i = 0; i < 1_000_000; i++)
{
    var value = random.NextDouble();
    sketch.Update(value);
    profile.Update(value);
}

Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"Serialized size at 1,000,000 doubles, k = 200: KLL {sketch.GetSerializedSizeBytes()} bytes, numeric FeatureProfile {profile.GetSerializedSizeBytes()} bytes (retained {sketch.NumRetained}, levels {sketch.NumLevels})."));

BenchmarkSwitcher.FromAssembly(typeof(UpdateBenchmarks).Assembly).Run(args);
