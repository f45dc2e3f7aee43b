#!/usr/bin/env bash
# Scale-out benchmark: two traek-server replicas on one PostgreSQL (synchronous_commit=on), all
# on this machine. Not a test: prints numbers.
#
#   bash benches/pull_server_replicas.sh [SECONDS_PER_RUN]
#
# 1. GetDscAction over 10,000 agents: one wrk per replica (32 connections each) at once; the
#    sum of both is the fleet's throughput.
# 2. SendReport ingest: the same, reports acknowledged per second (counted in the database).
# 3. Retention: a prune of 1,000,000 reports to 5 per node, timed, while ingest goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p dsc-pull-server --bin traek-server --example bench_seed
T=target/release
source scripts/services.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; services_stop; rm -rf "$WORK"; }
trap cleanup EXIT
services_start
TOKEN=bench-token-0123456789abcdef
DB="$TRAEK_TEST_DATABASE_URL/bench"
psql -q "$TRAEK_TEST_DATABASE_URL/postgres" -c "CREATE DATABASE bench"
psql -qtA "$TRAEK_TEST_DATABASE_URL/postgres" -c "SHOW synchronous_commit" | sed 's/^/synchronous_commit = /'
export TRAEK_CONTENT_URL="file://$WORK/blobs"

start_replica() { # PORT
  RUST_LOG=error $T/traek-server --database "$DB" --data-dir "$WORK/r$1" --listen "127.0.0.1:$1" \
    --admin-token $TOKEN 2>"$WORK/server-$1.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
  echo "replica on $1 did not start"; cat "$WORK/server-$1.log"; exit 1
}
rps() { grep "Requests/sec" "$1" | awk '{print $2}'; }
p99() { grep ' 99%' "$1" | awk '{print $2}'; }
both() { # SCRIPT OUT-PREFIX
  AGENTS_FILE="$WORK/agents.txt" wrk -t1 -c32 -d${SECS}s --latency -s "$1" http://127.0.0.1:18181 >"$WORK/$2-a.txt" &
  local w=$!
  AGENTS_FILE="$WORK/agents.txt" wrk -t1 -c32 -d${SECS}s --latency -s "$1" http://127.0.0.1:18182 >"$WORK/$2-b.txt"
  wait $w
  echo "  replica A: $(rps "$WORK/$2-a.txt") req/s p99 $(p99 "$WORK/$2-a.txt") ($(grep -o 'non2xx=[0-9]*' "$WORK/$2-a.txt" || echo 'all 2xx'))"
  echo "  replica B: $(rps "$WORK/$2-b.txt") req/s p99 $(p99 "$WORK/$2-b.txt") ($(grep -o 'non2xx=[0-9]*' "$WORK/$2-b.txt" || echo 'all 2xx'))"
  python3 -c "print(f'  total: {$(rps "$WORK/$2-a.txt") + $(rps "$WORK/$2-b.txt"):.0f} req/s')"
}
reports_in_db() { psql -qtA "$DB" -c "SELECT count(*) FROM reports"; }

$T/examples/bench_seed "$DB" 10000 0 "$WORK/agents.txt"
start_replica 18181
start_replica 18182
AGENTS_FILE="$WORK/agents.txt" wrk -t1 -c32 -d2s -s benches/wrk/get_dsc_action.lua http://127.0.0.1:18181 >/dev/null

echo "== 1. GetDscAction, 10,000 agents, 2 replicas x 32 connections, ${SECS}s"
both benches/wrk/get_dsc_action.lua action

echo "== 2. SendReport ingest, 2 replicas x 32 connections, ${SECS}s"
before=$(reports_in_db)
both benches/wrk/send_report.lua report
after=$(reports_in_db)
python3 -c "print(f'  committed in PostgreSQL: {$after - $before} reports ({($after - $before)/$SECS:.0f}/s)')"

echo "== 3. Prune 1,000,000 reports to 5 per node on a third replica, ingest running on B"
psql -qtA "$DB" -c "INSERT INTO reports (agent_id, job_id, received_at, error_count, body, status)
  SELECT a.agent_id, gen_random_uuid(), 0, 0, '\\x7b7d'::bytea, 'Success'
  FROM agents a, generate_series(1, 100)" >/dev/null
echo "  reports stored: $(reports_in_db)"
RUST_LOG=error $T/traek-server --database "$DB" --data-dir "$WORK/r3" --listen 127.0.0.1:18183 \
  --admin-token $TOKEN --max-reports-per-node 5 --prune-interval 1000h 2>"$WORK/server-18183.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18183/readyz >/dev/null && break; sleep 0.1; done
AGENTS_FILE="$WORK/agents.txt" wrk -t1 -c32 -d${SECS}s --latency -s benches/wrk/send_report.lua http://127.0.0.1:18182 >"$WORK/quiet.txt"
AGENTS_FILE="$WORK/agents.txt" wrk -t1 -c32 -d60s --latency -s benches/wrk/send_report.lua http://127.0.0.1:18182 >"$WORK/during.txt" &
w=$!
sleep 1
start=$(date +%s.%N)
curl -s -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18183/api/v1/maintenance/prune >"$WORK/prune.json"
end=$(date +%s.%N)
kill -INT $w 2>/dev/null || true
wait $w || true
echo "  prune answered $(cat "$WORK/prune.json") after $(python3 -c "print(f'{$end - $start:.1f}')") s"
echo "  SendReport on B without a prune: $(rps "$WORK/quiet.txt") req/s p99 $(p99 "$WORK/quiet.txt")"
echo "  SendReport on B while pruning:   $(rps "$WORK/during.txt") req/s p99 $(p99 "$WORK/during.txt")"
echo "  reports left: $(reports_in_db)"
