#!/usr/bin/env bash
# The admin API against its own OpenAPI document: Schemathesis (all of its checks: no 5xx,
# documented statuses and shapes, schema-valid requests accepted, schema-invalid ones refused,
# 405 with Allow for undocumented methods, stateful sequences) on a fresh traek-server.
# Usage: scripts/api-conformance.sh [extra schemathesis options, e.g. --max-examples 200]
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
if ! command -v schemathesis >/dev/null 2>&1 \
  || [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "installing: schemathesis $SCHEMATHESIS_VERSION (PyPI)"
  python3 -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION"
  hash -r
fi

cargo build --locked -q -p dsc-pull-server --bin traek-server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
work=$(mktemp -d)
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
TRAEK_ADMIN_TOKEN="$token" target/debug/traek-server --data-dir "$work/data" \
  --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

status=0
schemathesis --config-file scripts/schemathesis.toml run \
  "http://127.0.0.1:$port/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" --max-examples 50 "$@" || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  echo "traek-server exited during the run:" >&2
  tail -n 50 "$work/server.log" >&2
  status=1
fi
exit "$status"
