#!/usr/bin/env bash
# Dashboard and compliance API timings with 100,000 nodes and 1,000,000 reports (SQLite).
# Not a test: prints numbers.
#
#   bash benches/dashboard.sh [NODES] [REPORTS]
#
# TRAEK_BENCH_DATA=DIR reuses (or, when missing, seeds and keeps) a data directory.
# TRAEK_BENCH_BASELINE=BINARY also measures another traek-server build on the same data, one
# after the other in the same run, for side-by-side numbers.
#
# Server time is measured as curl's total time on loopback (connection included), median and
# worst of 21 requests per page, after one warm-up request.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-100000}
REPORTS=${2:-1000000}
cargo build --release -q -p dsc-pull-server --bin traek-server --example bench_seed
T=target/release
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
TOKEN=bench-token-0123456789abcdef
DATA=${TRAEK_BENCH_DATA:-$WORK/data}
AGENTS="$DATA/../agents.txt"
if [ ! -d "$DATA" ]; then
  start=$(date +%s)
  mkdir -p "$(dirname "$DATA")"
  $T/examples/bench_seed "$DATA" "$NODES" "$REPORTS" "$AGENTS"
  echo "seeded $NODES nodes and $REPORTS reports in $(( $(date +%s) - start )) s"
  echo "dashboard-password" | $T/traek-server user add admin --role admin --password-stdin --data-dir "$DATA" >/dev/null
fi
JAR="$WORK/jar"
node=$(sed -n '4242p' "$AGENTS" | tr 'A-Z' 'a-z')
mid=$(sed -n "$(( NODES / 2 ))p" "$AGENTS" | tr 'A-Z' 'a-z')
measure() { # LABEL URL [AUTH]
  local times=()
  curl -s -o /dev/null -b "$JAR" -H "Authorization: ${3:-}" "$2"
  for _ in $(seq 21); do
    if [ -n "${3:-}" ]; then
      times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: $3" "$2")")
    else
      times+=("$(curl -s -o /dev/null -w '%{time_total}' -b "$JAR" "$2")")
    fi
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v l="$1" '{a[NR]=$1} END {printf "%-44s median %6.1f ms   max %6.1f ms\n", l, a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
bench() { # BINARY LABEL
  echo "== $2 ($1)"
  RUST_LOG=error "$1" --data-dir "$DATA" --listen 127.0.0.1:18381 --admin-token $TOKEN 2>"$WORK/log" &
  PID=$!
  for _ in $(seq 300); do curl -sf http://127.0.0.1:18381/healthz >/dev/null && break; sleep 0.1; done
  B=http://127.0.0.1:18381
  rm -f "$JAR"
  csrf=$(curl -s -c "$JAR" "$B/ui/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
  curl -s -b "$JAR" -c "$JAR" -o /dev/null -d "csrf=$csrf&name=admin&password=dashboard-password" "$B/ui/login"
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$B/ui/")
  [ "$status" = 200 ] || { echo "not signed in ($status)"; exit 1; }
  measure "overview page /ui/ (budget 30 ms)" "$B/ui/"
  measure "node list page /ui/nodes (budget 50 ms)" "$B/ui/nodes"
  measure "node list, a middle page (budget 50 ms)" "$B/ui/nodes?after=$mid"
  measure "node list, status=non-compliant" "$B/ui/nodes?status=non-compliant"
  measure "node page /ui/nodes/ID (budget 50 ms)" "$B/ui/nodes/$node"
  measure "GET /api/v1/summary" "$B/api/v1/summary" "Bearer $TOKEN"
  measure "GET /api/v1/nodes?limit=100" "$B/api/v1/nodes?limit=100" "Bearer $TOKEN"
  measure "GET /api/v1/nodes/ID" "$B/api/v1/nodes/$node" "Bearer $TOKEN"
  # The first scrape counts the gauges; later ones answer from them (budget 10 ms).
  first=$(curl -s -o /dev/null -w '%{time_total}' "$B/metrics")
  echo "first /metrics scrape (counts the gauges): $(awk -v t="$first" 'BEGIN {printf "%.1f", t*1000}') ms"
  measure "GET /metrics (budget 10 ms)" "$B/metrics" " "
  echo "server RSS: $(( $(ps -o rss= -p "$PID") / 1024 )) MB"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
if [ -n "${TRAEK_BENCH_BASELINE:-}" ]; then
  bench "$TRAEK_BENCH_BASELINE" baseline
fi
bench "$T/traek-server" "this build"
