#!/usr/bin/env python3
"""Attributes `perf script` samples of the load harness to components.

Usage: perf script -i perf.data | python3 perf_breakdown.py
Record with: DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 perf record -e cpu-clock -F 999 -g -- dotnet ...

Each sample goes to the innermost frame (leaf to root) that matches a component; native runtime, libc, vdso and
kernel frames are transparent (their time is charged to the managed or ONNX Runtime code that called them), and
samples with no recognizable frame are 'other native (idle spinning, GC threads, JIT)'.
"""
import re
import sys
from collections import Counter

RULES = [
    ("ONNX Runtime native (model compute)", re.compile(r"libonnxruntime")),
    ("binding: pack inputs / unpack outputs", re.compile(r"InputBinder|OutputBinder|TypedBinder`2\[.*\]::Run|RawUnpack|Workload`3")),
    ("ONNX Runtime managed wrapper (OrtValue, Run marshalling)", re.compile(r"Microsoft\.ML\.OnnxRuntime")),
    ("per-request deadline timer / MaxDelay timer (TimerQueue, CTS timers)", re.compile(r"TimerQueue|SystemTimeProviderTimer|InitializeWithTimer")),
    ("SemaphoreSlim + cancellation plumbing (CTS, registrations, CancellationPromise)", re.compile(r"SemaphoreSlim|CancellationTokenSource|CancellationPromise|CancellationTokenRegistration|CallbackNode|Registrations")),
    ("batcher: enqueue (EnqueueAsync, Request, Arm)", re.compile(r"DynamicBatcher`2\[.*\]::EnqueueAsync|DynamicBatcher`2\+Request|DynamicBatcher`2/Request.*::\.ctor")),
    ("batcher: worker (take, claim, dequeue, complete)", re.compile(r"DynamicBatcher|RuntimeBatchExecutor|BatcherStatistics|BatcherProbe")),
    ("predictor / model runtime (validate, gate)", re.compile(r"ModelInService\.Predictor|ModelRuntime::|PredictionCache")),
    ("task completion, continuations, async state machines", re.compile(r"System\.Threading\.Tasks|AsyncTaskMethodBuilder|AsyncStateMachineBox|AsyncValueTaskMethodBuilder|ExecutionContext|TaskCompletionSource")),
    ("thread pool dispatch / park / wake", re.compile(r"ThreadPoolWorkQueue|PortableThreadPool|WorkerThread|LowLevelLifoSemaphore|ThreadPool|LowLevelMonitor|Thread::Sleep|SpinWait")),
    ("load harness callers / generator", re.compile(r"ModelInService\.Benchmarks")),
    ("GC (managed)", re.compile(r"System\.GC|GCHeap")),
]
TRANSPARENT = re.compile(r"\[kernel\.kallsyms\]|libcoreclr|libc\.so|\[vdso\]|ld-linux|libclrjit|libSystem|libstdc|libm\.so|unknown|^\s*[0-9a-f]+\s+0x[0-9a-f]+\s*$|\(\[JIT\] tid")

def samples(stream):
    stack = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                yield stack
            stack = []
            continue
        if line[0] not in " \t":
            stack = []  # header line of a sample
            continue
        stack.append(line.strip())
    if stack:
        yield stack

counts = Counter()
leaf_dso = Counter()
total = 0
for stack in samples(sys.stdin):
    total += 1
    leaf = stack[0]
    m = re.search(r"\(([^)]*)\)\s*$", leaf)
    dso = m.group(1).split("/")[-1] if m else "?"
    if dso.startswith("perf-") or "[JIT]" in dso:
        dso = "JIT-compiled managed code"
    leaf_dso[dso] += 1
    category = None
    for frame in stack:
        for name, pattern in RULES:
            if pattern.search(frame):
                category = name
                break
        if category:
            break
    counts[category or "other native (idle spinning, GC threads, JIT, unresolved)"] += 1

print(f"{total} samples")
print()
print("| component (innermost matching frame) | share of CPU samples |")
print("|---|--:|")
for name, n in counts.most_common():
    print(f"| {name} | {100.0 * n / total:.1f}% |")
print()
print("| leaf code (where the CPU actually was) | share |")
print("|---|--:|")
for name, n in leaf_dso.most_common(8):
    print(f"| {name} | {100.0 * n / total:.1f}% |")
