#!/usr/bin/env bash
# dsc-core's Cargo features each build (with their tests) on their own, and pass their tests on
# their own: the smallest set (manifests, discovery, engine, documents: what an embedder of the
# engine links), `package` and `pull` alone (`agent` needs both: it is the default set, tested with
# the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
for features in "" package pull agent; do
  echo "dsc-core with features: [${features}]"
  cargo clippy -q -p dsc-core --locked --no-default-features ${features:+--features "$features"} --all-targets -- -D warnings
done
cargo test -q -p dsc-core --locked --no-default-features --lib
for features in package pull; do
  cargo test -q -p dsc-core --locked --no-default-features --features "$features" --lib
done
# Without the optional features, none of their dependencies is linked.
if cargo tree -p dsc-core --no-default-features -e normal --prefix none | grep -E '^(ureq|zip|rcgen|rustls|ed25519-dalek) '; then
  echo "dsc-core without features still depends on the crates above" >&2
  exit 1
fi
