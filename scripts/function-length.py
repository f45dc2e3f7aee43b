#!/usr/bin/env python3
"""Fails when a function outside the tests is longer than 100 lines (docs/architecture.md).

Scans the `src/` and `examples/` trees of the workspace crates; test modules (`#[cfg(test)]`,
files named tests.rs, and files under a tests/ folder) are not checked."""
import os
import re
import sys

LIMIT = int(os.environ.get("TRAEK_FUNCTION_LIMIT", "100"))
ROOT = os.path.join(os.path.dirname(__file__), "..")
FN = re.compile(r'^(\s*)(pub(\([a-z]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern "C"\s+)?fn\s+(\w+)')

too_long = []
for crate in ["dsc-core", "dsc-pull-server", "dsc-cli", "dsc-ffi"]:
    for tree in ["src", "examples"]:
        for root, _, files in os.walk(os.path.join(ROOT, crate, tree)):
            for f in files:
                in_tests = os.path.basename(root) == "tests"
                if not f.endswith(".rs") or f == "tests.rs" or in_tests:
                    continue
                path = os.path.join(root, f)
                lines = open(path, encoding="utf-8").read().split("\n")
                for i, line in enumerate(lines):
                    if line.strip() == "#[cfg(test)]":
                        break
                    m = FN.match(line)
                    if not m or line.rstrip().endswith(";"):
                        continue
                    if line.rstrip().endswith("}") and line.count("{") == line.count("}"):
                        continue  # a one-line function: `fn f() {}`
                    indent = m.group(1)
                    for j in range(i + 1, len(lines)):
                        if lines[j] == indent + "}":
                            if j - i + 1 > LIMIT:
                                too_long.append(f"{os.path.relpath(path, ROOT)}:{i + 1} {m.group(8)} ({j - i + 1} lines)")
                            break
                        if lines[j].strip().endswith(";") and lines[j].startswith(indent) and not lines[j].startswith(indent + " ") and j > i:
                            break  # a declaration without a body (trait method)
if too_long:
    print("functions longer than %d lines:" % LIMIT)
    print("\n".join(too_long))
    sys.exit(1)
print("no function outside the tests is longer than %d lines" % LIMIT)
