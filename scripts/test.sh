#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace.
# Works on a fresh Debian machine with the Rust toolchain; installs what else it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)   # script resources, replay.py
command -v curl >/dev/null 2>&1 || need_apt+=(curl)         # HTTPS client-certificate tests
command -v git >/dev/null 2>&1 || need_apt+=(git)           # Git content sources (and their tests)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)   # test certificates
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)             # the C ABI test program
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)   # ... run under valgrind
command -v mcs >/dev/null 2>&1 || need_apt+=(mono-mcs)        # the C# P/Invoke test
command -v mono >/dev/null 2>&1 || need_apt+=(mono-runtime)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)           # dashboard browser tests
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)   # TLS-terminating proxy test
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)   # promtool checks the alert rules
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)   # the OpenID provider of the single sign-on tests
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  # nginx and prometheus ship daemons: installed here, never started by the installation.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# One clean build: incremental caches only cost time and disk here.
export CARGO_INCREMENTAL=0

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# dsc-core's features, each on its own.
bash scripts/features.sh
# No function outside the tests over 100 lines.
python3 scripts/function-length.py

# A real OpenID provider (panva's oidc-provider, from the npm registry, pinned by its lock
# file) for the single sign-on tests.
npm ci --prefix dsc-pull-server/tests/oidc --no-audit --no-fund --loglevel=error

# PostgreSQL and an S3-compatible server for the storage, end-to-end and replica tests.
source scripts/services.sh
trap services_stop EXIT
services_start

cargo test --workspace --locked

# The admin API against its OpenAPI document (Schemathesis, from PyPI).
bash scripts/api-conformance.sh

# The Kubernetes manifests: every overlay renders and validates against the schemas.
bash dsc-pull-server/deploy/check.sh

# The Prometheus alert rules parse and are well-formed (their metric names are checked
# against what the server exports by the e2e tests).
promtool check rules dsc-pull-server/deploy/prometheus/alerts.yaml
