#!/usr/bin/env bash
# Dashboard and compliance API timings with 100,000 nodes and 1,000,000 reports (SQLite).
# Not a test: prints numbers.
#
#   bash benches/dashboard.sh [NODES] [REPORTS]
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
start=$(date +%s)
$T/examples/bench_seed "$WORK/data" "$NODES" "$REPORTS" "$WORK/agents.txt"
echo "seeded $NODES nodes and $REPORTS reports in $(( $(date +%s) - start )) s"
echo "dashboard-password" | $T/traek-server user add admin --role admin --password-stdin --data-dir "$WORK/data" >/dev/null
RUST_LOG=error $T/traek-server --data-dir "$WORK/data" --listen 127.0.0.1:18381 --admin-token $TOKEN 2>"$WORK/log" &
PID=$!
for _ in $(seq 200); do curl -sf http://127.0.0.1:18381/healthz >/dev/null && break; sleep 0.1; done
B=http://127.0.0.1:18381
JAR="$WORK/jar"
csrf=$(curl -s -c "$JAR" "$B/ui/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
curl -s -b "$JAR" -c "$JAR" -o /dev/null -d "csrf=$csrf&name=admin&password=dashboard-password" "$B/ui/login"
node=$(sed -n '4242p' "$WORK/agents.txt" | tr 'A-Z' 'a-z')
mid=$(sed -n "$(( NODES / 2 ))p" "$WORK/agents.txt" | tr 'A-Z' 'a-z')
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
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$B/ui/")
[ "$status" = 200 ] || { echo "not signed in ($status)"; exit 1; }
measure "overview page /ui/ (budget 100 ms)" "$B/ui/"
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
