#!/usr/bin/env bash
# Paired load-harness runs: a base git ref against the current checkout, alternating on the same machine, so that
# drift in the machine's load (other processes, CPU speed) hits both sides alike.
# Usage (from anywhere inside the repository):
#   tests/ModelInService.Benchmarks/Load/tools/paired.sh BASE_REF [ROUNDS] -- <load arguments>
#   e.g. tests/ModelInService.Benchmarks/Load/tools/paired.sh HEAD~1 3 -- --models forest --modes naive,batched --seconds 3
# Builds BASE_REF (Release) in a temporary git worktree that is removed on exit, and the current checkout (Release,
# uncommitted changes included); then runs `load <arguments> --json` ROUNDS times (default 3) for each, alternating
# (base first in odd rounds, current first in even ones), and prints per model and mode the median items/s of each
# side and current/base, followed by `load --compare` over every run (base runs first).
# OUT=DIR keeps the JSON files and logs there (default: a new directory under /tmp, printed at the end).
# The shared models are looked up next to the current checkout (../shared) unless MIS_SHARED_DIR is set, so the
# temporary worktree sees the same ones.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 1 && $1 != "--" && $1 != "-h" && $1 != "--help" ]] || usage
base_ref="$1"; shift
rounds=3
if [[ $# -ge 1 && $1 != "--" ]]; then
  [[ $1 =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, got '$1'" >&2; usage; }
  rounds="$1"; shift
fi
[[ $# -ge 1 && $1 == "--" ]] || { echo "expected -- before the load arguments" >&2; usage; }
shift
load_args=("$@")
for a in "${load_args[@]}"; do
  case "$a" in
    --json|--compare|--help|-h) echo "paired.sh sets --json itself; '$a' is not allowed among the load arguments" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel)"
base_sha="$(git -C "$root" rev-parse --verify --quiet "${base_ref}^{commit}")" || { echo "not a commit: $base_ref" >&2; exit 2; }
project="tests/ModelInService.Benchmarks"
dll="$project/bin/Release/net10.0/ModelInService.Benchmarks.dll"

out="${OUT:-$(mktemp -d /tmp/mis-paired.XXXXXX)}"
mkdir -p "$out"
base_tree="$(mktemp -d /tmp/mis-paired-base.XXXXXX)"

cleanup() {
  local status=$?
  # Remove the temporary worktree (and its registration), whatever happened.
  git -C "$root" worktree remove --force "$base_tree" >/dev/null 2>&1 || rm -rf "$base_tree"
  git -C "$root" worktree prune >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${MIS_SHARED_DIR:-} && -d "$root/../shared/models" ]]; then
  MIS_SHARED_DIR="$(cd "$root/../shared" && pwd)"
  export MIS_SHARED_DIR
fi

echo "base:    $base_ref ($(git -C "$root" log -1 --format='%h %s' "$base_sha" | cut -c1-100))"
echo "current: $root at $(git -C "$root" log -1 --format='%h' HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes')"
echo "rounds:  $rounds; load ${load_args[*]}"
echo "output:  $out"
echo

git -C "$root" worktree add --detach --quiet "$base_tree" "$base_sha"
echo "Building base (Release) in $base_tree ..."
dotnet build -c Release "$base_tree/$project" -nologo -v q >"$out/build-base.log" 2>&1 \
  || { tail -n 30 "$out/build-base.log" >&2; echo "base build failed (log: $out/build-base.log)" >&2; exit 1; }
echo "Building current (Release) ..."
dotnet build -c Release "$root/$project" -nologo -v q >"$out/build-current.log" 2>&1 \
  || { tail -n 30 "$out/build-current.log" >&2; echo "current build failed (log: $out/build-current.log)" >&2; exit 1; }

run() { # side tree round
  local side="$1" tree="$2" round="$3"
  local started=$SECONDS
  (cd "$tree" && dotnet "$dll" load "${load_args[@]}" --json "$out/$side-$round.json") >"$out/$side-$round.log" 2>&1 \
    || { tail -n 30 "$out/$side-$round.log" >&2; echo "$side round $round failed (log: $out/$side-$round.log)" >&2; exit 1; }
  echo "  round $round $side: $((SECONDS - started)) s"
}

for ((i = 1; i <= rounds; i++)); do
  if ((i % 2 == 1)); then
    run base "$base_tree" "$i"; run current "$root" "$i"
  else
    run current "$root" "$i"; run base "$base_tree" "$i"
  fi
done

echo
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def best_per_mode(path):
    # A mode's best row in one run (several configurations or rounds of a mode: the fastest, as load --compare does).
    best = {}
    for row in json.load(open(path))["rows"]:
        rate = row.get("items_per_sec")
        if rate is None:
            continue
        key = (row["model"], row["mode"])
        best[key] = max(best.get(key, 0.0), float(rate))
    return best

sides = {s: [best_per_mode(f"{out}/{s}-{i}.json") for i in range(1, rounds + 1)] for s in ("base", "current")}
keys = []
for run in sides["base"] + sides["current"]:
    for k in run:
        if k not in keys:
            keys.append(k)

print(f"Median over {rounds} paired round(s) of each mode's best items/s per run:")
print()
print("| model | mode | base median | current median | current / base | base runs | current runs |")
print("|---|---|--:|--:|--:|--:|--:|")
for k in keys:
    b = [r[k] for r in sides["base"] if k in r]
    c = [r[k] for r in sides["current"] if k in r]
    bm = statistics.median(b) if b else None
    cm = statistics.median(c) if c else None
    ratio = f"{cm / bm:.2f}x" if bm and cm else "n/a"
    fmt = lambda v: f"{v:,.0f}" if v is not None else "n/a"
    runs = lambda vs: " / ".join(f"{v:,.0f}" for v in vs) or "n/a"
    print(f"| {k[0]} | {k[1]} | {fmt(bm)} | {fmt(cm)} | {ratio} | {runs(b)} | {runs(c)} |")
PY

echo
files=()
for ((i = 1; i <= rounds; i++)); do files+=("$out/base-$i.json"); done
for ((i = 1; i <= rounds; i++)); do files+=("$out/current-$i.json"); done
(cd "$root" && dotnet "$dll" load --compare "${files[@]}")
echo
echo "JSON and logs: $out"
