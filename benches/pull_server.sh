#!/usr/bin/env bash
# Pull-server load benchmark. Not a test: prints numbers.
#
#   bash benches/pull_server.sh [SECONDS_PER_RUN]
#
# 1. GetDscAction with 10,000 registered agents (wrk, 64 connections) against a minimal hyper
#    hello-world server built and measured in the same run: throughput ratio and p99.
# 2. SendReport ingest on SQLite: acknowledged reports per second (wrk, 64 connections).
# 3. GetDscAction with a staged rollout in progress against without one (same server, runs
#    interleaved), and the evaluation of a 10,000-node ring (benches/rollout_ring.py).
# 4. 100,000 agents and 1,000,000 stored reports: server RSS, and GET /api/v1/nodes?limit=100.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p dsc-pull-server --bin traek-server --example hello --example bench_seed
T=target/release
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
TOKEN=bench-token-0123456789abcdef

start_server() { # DATA PORT
  RUST_LOG=error $T/traek-server --data-dir "$1" --listen "127.0.0.1:$2" --admin-token $TOKEN 2>"$WORK/server-$2.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "server on $2 did not start"; cat "$WORK/server-$2.log"; exit 1
}
rps() { grep "Requests/sec" "$1" | awk '{print $2}'; }
extra() { grep "non2xx=" "$1"; }

echo "== 1. GetDscAction, 10,000 agents, 64 connections, ${SECS}s each"
$T/examples/bench_seed "$WORK/a10k" 10000 0 "$WORK/agents10k.txt"
start_server "$WORK/a10k" 18081
$T/examples/hello 127.0.0.1:18090 2>/dev/null &
PIDS+=($!)
sleep 0.3
wrk -t2 -c64 -d2s http://127.0.0.1:18090/ >/dev/null   # warm-up
AGENTS_FILE="$WORK/agents10k.txt" wrk -t2 -c64 -d2s -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18081 >/dev/null
# Baseline A: hello-world given the very same GetDscAction requests (same wrk script and Lua
# cost per request). Baseline B: hello-world on a bare GET (no script, no body).
AGENTS_FILE="$WORK/agents10k.txt" wrk -t2 -c64 -d${SECS}s --latency -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18090 >"$WORK/hello_same.txt"
wrk -t2 -c64 -d${SECS}s --latency http://127.0.0.1:18090/ >"$WORK/hello.txt"
AGENTS_FILE="$WORK/agents10k.txt" wrk -t2 -c64 -d${SECS}s --latency -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18081 >"$WORK/action.txt"
HS=$(rps "$WORK/hello_same.txt"); H=$(rps "$WORK/hello.txt"); A=$(rps "$WORK/action.txt")
echo "hello-world, same requests: $HS req/s  p99 $(grep ' 99%' "$WORK/hello_same.txt" | awk '{print $2}')"
echo "hello-world, bare GET:      $H req/s  p99 $(grep ' 99%' "$WORK/hello.txt" | awk '{print $2}')"
echo "GetDscAction:               $A req/s  p99 $(grep ' 99%' "$WORK/action.txt" | awk '{print $2}')  ($(extra "$WORK/action.txt"))"
python3 -c "print(f'GetDscAction / hello-world (same requests) = {$A/$HS:.2f}; / hello-world (bare GET) = {$A/$H:.2f}')"

echo "== 2. SendReport ingest (SQLite, synchronous=FULL), 64 connections, ${SECS}s"
before=$(curl -s "http://127.0.0.1:18081/metrics" | awk '/^traek_reports_ingested_total/ {print $2}')
AGENTS_FILE="$WORK/agents10k.txt" wrk -t2 -c64 -d${SECS}s --latency -s benches/wrk/send_report.lua http://127.0.0.1:18081 >"$WORK/report.txt"
after=$(curl -s "http://127.0.0.1:18081/metrics" | awk '/^traek_reports_ingested_total/ {print $2}')
echo "SendReport:   $(rps "$WORK/report.txt") acknowledged req/s  p99 $(grep ' 99%' "$WORK/report.txt" | awk '{print $2}')  ($(extra "$WORK/report.txt"))"
python3 -c "print(f'reports stored during the run: {int(float($after) - float($before))} ({(float($after) - float($before))/$SECS:.0f}/s)')"

echo "== 3. GetDscAction with a staged rollout in progress, same server, ${SECS}s each"
# Without, with (rings of 10 % and 100 %: every request computes the node's ring), without again.
api() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" --data-binary "${3:-}" "http://127.0.0.1:18081/api/v1/configurations/BenchConfig$2"; }
action_rps() { AGENTS_FILE="$WORK/agents10k.txt" wrk -t2 -c64 -d${SECS}s -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18081 >"$WORK/$1.txt"; rps "$WORK/$1.txt"; }
R0=$(action_rps plain0)
[ "$(api PUT /rollout '{"rings":[{"percent":10},{"percent":100}],"soak":"1h"}')" = 200 ] || { echo "plan refused"; exit 1; }
[ "$(api PUT '?candidate=true' 'instance of MSFT_BenchCandidate {};')" = 200 ] || { echo "candidate refused"; exit 1; }
R1=$(action_rps rollout)
[ "$(api POST /rollout/abort)" = 200 ] || { echo "abort refused"; exit 1; }
R2=$(action_rps plain1)
echo "GetDscAction without a rollout: $R0 and $R2 req/s; with one: $R1 req/s ($(extra "$WORK/rollout.txt"))"
python3 -c "print(f'with a rollout / without = {$R1/(($R0+$R2)/2):.3f}')"
echo "-- a ring of 10,000 nodes, every node on the candidate and reported"
python3 benches/rollout_ring.py http://127.0.0.1:18081 $TOKEN "$WORK/agents10k.txt"

echo "== 4. 100,000 agents, 1,000,000 reports"
$T/examples/bench_seed "$WORK/a100k" 100000 1000000 "$WORK/agents100k.txt"
start_server "$WORK/a100k" 18082
AGENTS_FILE="$WORK/agents100k.txt" wrk -t2 -c64 -d${SECS}s -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18082 >"$WORK/action100k.txt"
echo "GetDscAction over 100,000 agents: $(rps "$WORK/action100k.txt") req/s"
SPID=${PIDS[-1]}
echo "server RSS after load: $(( $(ps -o rss= -p "$SPID") / 1024 )) MB"
mid=$(sed -n '50000p' "$WORK/agents100k.txt" | tr 'A-Z' 'a-z')
for q in "limit=100" "limit=100&after=$mid"; do
  times=()
  for _ in $(seq 21); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18082/api/v1/nodes?$q")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v q="$q" '{a[NR]=$1} END {printf "GET /api/v1/nodes?%s: median %.1f ms, max %.1f ms\n", q, a[int((NR+1)/2)]*1000, a[NR]*1000}'
done
echo "server RSS at the end: $(( $(ps -o rss= -p "$SPID") / 1024 )) MB"
du -sh "$WORK/a100k" | awk '{print "data directory: " $1}'
