#!/usr/bin/env bash
# Pull-server hot paths at two revisions, side by side in one run. Not a test: prints numbers.
#
#   bash benches/pull_server_compare.sh BASE_REV [SECONDS_PER_RUN] [ROUNDS]
#
# Builds BASE_REV's traek-server and bench_seed in a git worktree, seeds 10,000 agents for each
# revision with its own seeder, then alternates base and current (ROUNDS times each) on
# GetDscAction and SendReport (wrk, 64 connections), and prints the median ratio current/base.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: pull_server_compare.sh BASE_REV [SECONDS] [ROUNDS]}
SECS=${2:-10}
ROUNDS=${3:-3}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  git worktree remove --force "$WORK/base-src" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
TOKEN=bench-token-0123456789abcdef

git worktree add -q --detach "$WORK/base-src" "$BASE"
BASE_TARGET=${BASE_TARGET_DIR:-target/bench-base}
(cd "$WORK/base-src" && CARGO_TARGET_DIR="$OLDPWD/$BASE_TARGET" cargo build --release -q -p dsc-pull-server --bin traek-server --example bench_seed)
cargo build --release -q -p dsc-pull-server --bin traek-server --example bench_seed
declare -A BIN=([base]="$BASE_TARGET/release" [current]=target/release)
declare -A PORT=([base]=18181 [current]=18182)

for rev in base current; do
  "${BIN[$rev]}/examples/bench_seed" "$WORK/$rev" 10000 0 "$WORK/agents-$rev.txt"
  RUST_LOG=error "${BIN[$rev]}/traek-server" --data-dir "$WORK/$rev" --listen "127.0.0.1:${PORT[$rev]}" \
    --admin-token $TOKEN 2>"$WORK/server-$rev.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${PORT[$rev]}/healthz" >/dev/null && break; sleep 0.1; done
  AGENTS_FILE="$WORK/agents-$rev.txt" wrk -t2 -c64 -d2s -s benches/wrk/get_dsc_action.lua "http://127.0.0.1:${PORT[$rev]}" >/dev/null
done

rps() { grep "Requests/sec" "$1" | awk '{print $2}'; }
p99() { grep ' 99%' "$1" | awk '{print $2}'; }
non2xx() { grep -o "non2xx=[0-9]*" "$1" || echo "non2xx=?"; }
for path in get_dsc_action send_report; do
  for round in $(seq "$ROUNDS"); do
    for rev in base current; do
      out="$WORK/$path-$rev-$round.txt"
      AGENTS_FILE="$WORK/agents-$rev.txt" wrk -t2 -c64 -d"${SECS}s" --latency -s "benches/wrk/$path.lua" \
        "http://127.0.0.1:${PORT[$rev]}" >"$out"
      echo "$path $rev round $round: $(rps "$out") req/s  p99 $(p99 "$out")  ($(non2xx "$out"))"
    done
  done
  python3 - "$WORK" "$path" "$ROUNDS" <<'PY'
import re, statistics, sys
work, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rps(rev, r):
    text = open(f"{work}/{path}-{rev}-{r}.txt").read()
    return float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
ratios = [rps("current", r) / rps("base", r) for r in range(1, rounds + 1)]
print(f"{path}: current/base throughput per round {', '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}")
PY
done
