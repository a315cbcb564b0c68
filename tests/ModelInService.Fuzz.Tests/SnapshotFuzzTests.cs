using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using ModelInService.Monitoring;
using ModelInService.Tests.Monitoring;

namespace ModelInService.Fuzz.Tests;

/// <summary>
/// Structure-aware mutations of monitor snapshots (interval indexes, counts, array lengths, blob references, nulls,
/// feature lists, sketch bytes; checksum recomputed) through <see cref="MonitorSnapshot.ReadFrom"/>,
/// <see cref="IModelMonitor.MergeSnapshot"/> and the start-up restore. Invariants: only the documented exceptions
/// (<see cref="FormatException"/> from reading; <see cref="OverflowException"/> and <see cref="ArgumentException"/>
/// from merging; nothing from the restore), allocation per call bounded by a multiple of the file's size, a time
/// bound per call, and the live monitor still exports a snapshot that reads back.
/// </summary>
public sealed class SnapshotFuzzTests : IDisposable
{
    private static readonly Type[] Reading = [typeof(FormatException)];
    private static readonly Type[] Merging = [typeof(OverflowException), typeof(ArgumentException)];

    private readonly MonitorHarness _live;
    private readonly byte[][] _seeds;
    private readonly long _current;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mis-fuzz-" + Guid.NewGuid().ToString("N"));

    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public SnapshotFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
    {
        _output = output;
        _live = new MonitorHarness(o => o.MaxImportedFeatures = 256);
        _live.Run(new SyntheticStream(7), 4, 300);
        using var other = new MonitorHarness(time: new Microsoft.Extensions.Time.Testing.FakeTimeProvider(_live.Time.GetUtcNow() - TimeSpan.FromMinutes(3)));
        other.Run(new SyntheticStream(8), 5, 150);
        using var one = new MonitorHarness();
        one.Run(new SyntheticStream(9), 1, 20);
        _seeds = [SnapshotFiles.Bytes(_live.Monitor.ExportSnapshot()), SnapshotFiles.Bytes(other.Monitor.ExportSnapshot()), SnapshotFiles.Bytes(one.Monitor.ExportSnapshot())];
        _current = _live.Time.GetUtcNow().UtcTicks / _live.Options.IntervalLength.Ticks;
        Directory.CreateDirectory(_directory);
    }

    public void Dispose()
    {
        _live.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void MutatedSnapshots_ReadAndMergeIntoALiveMonitor_WithinTheInvariants()
    {
        int read = 0, merged = 0;
        var mutating = new System.Diagnostics.Stopwatch();
        var iterations = FuzzBudget.Run(25, (random, _) =>
        {
            mutating.Start();
            var file = Mutate(random);
            mutating.Stop();
            var snapshot = FuzzBudget.Check("ReadFrom", file.Length, () => SnapshotFiles.Read(file), Reading);
            if (snapshot is not null)
            {
                read++;
                merged += FuzzBudget.Check("MergeSnapshot", file.Length, () => (object)_live.Monitor.MergeSnapshot(snapshot), Merging, perInputByte: 64) is null ? 0 : 1;
            }

            // The live monitor still exports, within a time bound, and its export reads back.
            var export = FuzzBudget.Check("ExportSnapshot", 1 << 20, () => SnapshotFiles.Bytes(_live.Monitor.ExportSnapshot()), [], perInputByte: 64)!;
            Assert.True(SnapshotFiles.Read(export).Predictions >= 0);
        });
        _output.WriteLine($"{iterations} mutated snapshots (seed {FuzzBudget.Seed}): {read} read, {merged} merged, the rest FormatException or OverflowException/ArgumentException as documented; {mutating.ElapsedMilliseconds} ms mutating");
        Assert.True(read > 0 && merged > 0, "the mutations never produced a readable snapshot: the fuzzer tests nothing past the reader");
    }

    [Fact]
    public void MutatedSnapshots_ThroughTheStartUpRestore_NeverThrow_AndLeaveAnEmptyOrRestoredMonitor()
    {
        var restoredCount = 0;
        var iterations = FuzzBudget.Run(10, (random, i) =>
        {
            var file = Mutate(random);
            var path = Path.Combine(_directory, $"m{i}.monitor");
            File.WriteAllBytes(path, file);
            using var fresh = new MonitorHarness(time: new Microsoft.Extensions.Time.Testing.FakeTimeProvider(_live.Time.GetUtcNow()));
            var restored = FuzzBudget.Check("Restore", file.Length, () => (object)MonitorHostedService.Restore(fresh.Monitor, path, fresh.Time, NullLogger.Instance), [], perInputByte: 64);
            var export = SnapshotFiles.Read(SnapshotFiles.Bytes(fresh.Monitor.ExportSnapshot()));
            if (restored is true)
            {
                restoredCount++;
                Assert.True(File.Exists(path));
            }
            else
            {
                Assert.False(File.Exists(path));
                Assert.Single(Directory.GetFiles(_directory, $"m{i}.monitor.corrupt-*"));
                Assert.Equal(0, export.Predictions);
            }
        });
        _output.WriteLine($"{iterations} mutated snapshot files restored at start-up (seed {FuzzBudget.Seed}): {restoredCount} restored, the rest moved aside");
    }

    /// <summary>One to three structure-aware mutations of a seed (checksum recomputed), or a raw JSON or sketch-byte mutation.</summary>
    private byte[] Mutate(Random random)
    {
        var seed = _seeds[random.Next(_seeds.Length)];
        var (header, blobs) = SnapshotFiles.Open(seed);
        var rounds = 1 + random.Next(3);
        for (var r = 0; r < rounds; r++)
        {
            MutateHeader(header, blobs, random);
        }

        if (random.Next(6) == 0)
        {
            return SnapshotFiles.WriteRaw(MutateJson(JsonSerializer.Serialize(header, MonitorJsonContext.Default.SnapshotHeader), random), blobs);
        }

        return SnapshotFiles.Write(header, blobs);
    }

    private long Index(Random random) => random.Next(12) switch
    {
        0 => long.MaxValue,
        1 => long.MinValue,
        2 => -1,
        3 => 0,
        4 => _current + random.Next(1, 300),
        5 => _current - random.Next(1, 20_000),
        6 => DateTimeOffset.MaxValue.UtcTicks / TimeSpan.TicksPerMinute,
        7 => (DateTimeOffset.MaxValue.UtcTicks / TimeSpan.TicksPerMinute) + 1,
        8 => random.NextInt64(),
        _ => _current - random.Next(0, 30),
    };

    private static long Count(Random random) => random.Next(8) switch
    {
        0 => long.MaxValue,
        1 => long.MaxValue - random.Next(1000),
        2 => -1,
        3 => long.MinValue,
        4 => 0,
        5 => random.NextInt64(),
        _ => random.Next(1_000_000),
    };

    private static double Real(Random random) => random.Next(6) switch
    {
        // NaN and infinities cannot be serialized; the raw JSON mutations write "NaN" and 1e400 instead.
        0 => -double.MaxValue,
        1 => double.Epsilon,
        2 => -1,
        3 => double.MaxValue,
        4 => 0,
        _ => random.NextDouble() * 100,
    };

    private void MutateHeader(SnapshotHeader header, List<byte[]> blobs, Random random)
    {
        // A null written by an earlier round is the last mutation: later rounds would only trip over it.
        if (header.Intervals is null || header.Features is null
            || header.Intervals.Any(i => i?.Blobs is null || i.BinCount is null || i.BinConfidence is null || i.BinCorrect is null)
            || header.Features.Any(f => f?.Name is null))
        {
            return;
        }

        var intervals = header.Intervals;
        var interval = intervals.Count > 0 ? intervals[random.Next(intervals.Count)] : null;
        switch (random.Next(14))
        {
            case 0 when interval is not null:
                interval.Index = Index(random);
                break;
            case 1 when interval is not null:
                switch (random.Next(7))
                {
                    case 0: interval.Rows = Count(random); break;
                    case 1: interval.Dropped = Count(random); break;
                    case 2: interval.Unsampled = Count(random); break;
                    case 3: interval.SchemaViolations = Count(random); break;
                    case 4: interval.Classified = Count(random); break;
                    case 5: interval.Correct = Count(random); break;
                    default: interval.BinCount[random.Next(interval.BinCount.Length)] = Count(random); break;
                }

                break;
            case 2 when interval is not null:
                switch (random.Next(3))
                {
                    case 0: interval.AbsoluteError = Real(random); break;
                    case 1: interval.SquaredError = Real(random); break;
                    default: interval.BinConfidence[random.Next(interval.BinConfidence.Length)] = Real(random); break;
                }

                break;
            case 3 when interval is not null:
                switch (random.Next(6))
                {
                    case 0: interval.BinCount = null!; break;
                    case 1: interval.BinConfidence = [.. interval.BinConfidence, 1]; break;
                    case 2: interval.BinCorrect = interval.BinCorrect[..^1]; break;
                    case 3: interval.Blobs = null!; break;
                    case 4: interval.Blobs.Add(-1); break;
                    default: if (interval.Blobs.Count > 0) { interval.Blobs.RemoveAt(0); } break;
                }

                break;
            case 4 when interval is not null && interval.Blobs.Count > 0:
                {
                    var at = random.Next(interval.Blobs.Count);
                    var used = intervals.SelectMany(i => i.Blobs ?? []).Where(b => b >= 0).ToArray();
                    interval.Blobs[at] = random.Next(5) switch
                    {
                        0 => -2,
                        1 => -1,
                        2 => blobs.Count,
                        3 when used.Length > 0 => used[random.Next(used.Length)], // shared: the amplification shape
                        _ => random.Next(-3, blobs.Count + 3),
                    };
                    break;
                }

            case 5 when header.Features.Count > 0:
                {
                    var feature = header.Features[random.Next(header.Features.Count)];
                    switch (random.Next(6))
                    {
                        case 0: header.Features[header.Features.IndexOf(feature)] = null!; break;
                        case 1: feature.Name = null!; break;
                        case 2: feature.Name = header.Features[0]?.Name ?? "x"; break;
                        case 3: feature.Kind = feature.Kind == "numeric" ? "categorical" : "numeric"; break;
                        case 4: feature.Role = "weird"; break;
                        default: feature.Name = "unknown-" + random.Next(100_000); break;
                    }

                    break;
                }

            case 6:
                {
                    // Unknown features: many names the live monitor does not know.
                    var extra = random.Next(1, 400);
                    for (var f = 0; f < extra; f++)
                    {
                        header.Features.Add(new FeatureEntry { Name = $"extra-{random.Next()}-{f}", Kind = random.Next(2) == 0 ? "numeric" : "categorical" });
                    }

                    foreach (var i in intervals)
                    {
                        i.Blobs?.AddRange(Enumerable.Repeat(-1, extra));
                    }

                    break;
                }

            case 7 when interval is not null:
                // The same interval twice (its blobs shared, or none).
                intervals.Add(Clone(interval, random.Next(2) == 0 ? interval.Index : Index(random), keepBlobs: random.Next(2) == 0));
                break;
            case 8 when interval is not null:
                {
                    // Many intervals, sometimes all referencing the same blobs: the amplification shape.
                    var copies = random.Next(3) == 0 ? random.Next(9_990, 10_010) : random.Next(1, 200);
                    var share = random.Next(2) == 0;
                    for (var c = 0; c < copies; c++)
                    {
                        intervals.Add(Clone(interval, interval.Index - 1 - c, keepBlobs: share));
                    }

                    break;
                }

            case 9:
                header.IntervalTicks = random.Next(5) switch
                {
                    0 => 0,
                    1 => -1,
                    2 => long.MaxValue,
                    3 => 1,
                    _ => TimeSpan.TicksPerSecond * 30,
                };
                break;
            case 10 when blobs.Count > 0:
                {
                    var at = random.Next(blobs.Count);
                    blobs[at] = ByteMutator.Mutate(blobs[at], blobs[random.Next(blobs.Count)], random);
                    break;
                }

            case 11:
                switch (random.Next(3))
                {
                    case 0: header.Features = null!; break;
                    case 1: header.Intervals = null!; break;
                    default: header.ModelName = null!; break;
                }

                break;
            case 12 when interval is not null:
                intervals.Remove(interval);
                break;
            default:
                blobs.Add(random.Next(2) == 0 ? [] : ByteMutator.Mutate(blobs.Count > 0 ? blobs[0] : [1, 2, 3], [], random));
                break;
        }
    }

    private static IntervalEntry Clone(IntervalEntry source, long index, bool keepBlobs) => new()
    {
        Index = index,
        Rows = source.Rows,
        Dropped = source.Dropped,
        Unsampled = source.Unsampled,
        SchemaViolations = source.SchemaViolations,
        Classified = source.Classified,
        Correct = source.Correct,
        Regressed = source.Regressed,
        AbsoluteError = source.AbsoluteError,
        SquaredError = source.SquaredError,
        BinCount = source.BinCount is null ? null! : [.. source.BinCount],
        BinConfidence = source.BinConfidence is null ? null! : [.. source.BinConfidence],
        BinCorrect = source.BinCorrect is null ? null! : [.. source.BinCorrect],
        Blobs = source.Blobs is null ? null! : keepBlobs ? [.. source.Blobs] : [.. source.Blobs.Select(_ => -1)],
    };

    /// <summary>Replaces one JSON value (scalar, array or object) with null, an extreme number, a wrong type, or cuts the text.</summary>
    private static byte[] MutateJson(string json, Random random)
    {
        var colons = new List<int>();
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            if (json[i] == '"' && (i == 0 || json[i - 1] != '\\'))
            {
                inString = !inString;
            }
            else if (!inString && json[i] == ':')
            {
                colons.Add(i);
            }
        }

        if (colons.Count == 0 || random.Next(10) == 0)
        {
            return Encoding.UTF8.GetBytes(json[..random.Next(json.Length + 1)]);
        }

        var start = colons[random.Next(colons.Count)] + 1;
        var end = ValueEnd(json, start);
        string[] replacements = ["null", "1e400", "-0", "9223372036854775808", "-9223372036854775809", "\"x\"", "[]", "{}", "[null]", "true", "1.5", "\"NaN\"", "\"Infinity\""];
        return Encoding.UTF8.GetBytes(json[..start] + replacements[random.Next(replacements.Length)] + json[end..]);
    }

    private static int ValueEnd(string json, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '"' && json[i - 1] != '\\')
                {
                    inString = false;
                    if (depth == 0)
                    {
                        return i + 1;
                    }
                }

                continue;
            }

            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '[' or '{':
                    depth++;
                    break;
                case ']' or '}':
                    if (depth == 0)
                    {
                        return i;
                    }

                    if (--depth == 0)
                    {
                        return i + 1;
                    }

                    break;
                case ',' when depth == 0:
                    return i;
            }
        }

        return json.Length;
    }
}
