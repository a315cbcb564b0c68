#!/usr/bin/env bash
# CPU profile of load-harness windows with perf (cpu-clock sampling; hardware counters are not needed).
# Usage (from the repository root, after a Release build of tests/ModelInService.Benchmarks):
#   tests/ModelInService.Benchmarks/Load/tools/profile.sh MODEL MODES [more load arguments]
#   e.g. tests/ModelInService.Benchmarks/Load/tools/profile.sh xgboost batched-default --seconds 10
# Prints, for every measured window, which components the CPU samples of that window fall into.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="${OUT:-/tmp/mis-profile}"
mkdir -p "$out"
dll="$root/tests/ModelInService.Benchmarks/bin/Release/net10.0/ModelInService.Benchmarks.dll"
model="$1"; modes="$2"; shift 2
# Perf maps name JIT-compiled methods; W^X double mapping would hide them behind memfd:doublemapper.
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 \
  perf record -k CLOCK_MONOTONIC -e cpu-clock -F 999 -g -o "$out/perf.data" -- \
  dotnet "$dll" load --models "$model" --modes "$modes" "$@" | tee "$out/log.txt"
grep -E '^  [a-z0-9-]+ +\[t [0-9.]+-[0-9.]+\]' "$out/log.txt" | while read -r mode t range rest; do
  range="${range%]}"; start="${range%-*}"; end="${range#*-}"
  echo
  echo "## $mode (window $start-$end s)"
  perf script -i "$out/perf.data" --time "$start,$end" 2>/dev/null | python3 "$here/perf_breakdown.py"
done
