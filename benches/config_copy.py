#!/usr/bin/env python3
"""Benchmark of evaluating a 1,000-resource document made with a `copy` loop. Not a test.

  python3 benches/config_copy.py [--traek target/release/traek] [--runs 20] [--count 1000]

The document's one resource is repeated by `copy` 1,000 times; every instance has an
expression name (`copyIndex()` and a user-defined function), a `condition`, and a `dependsOn`
on the previous instance, so names, conditions, the dependency order and the results are all
evaluated. The instances are empty `Microsoft.DSC/Group`s, so no resource process runs: the
time measured is traek evaluating the document (`config set --what-if`), start-up included.
A root group comes first. Prints the median wall time, and the time of the same document with 1 instance (start-up).
"""
import argparse
import json
import statistics
import subprocess
import tempfile
import time


def document(count):
    return {
        "$schema": "https://aka.ms/dsc/schemas/v3/bundled/config/document.json",
        "functions": [{"namespace": "bench", "members": {"name": {
            "parameters": [{"name": "i", "type": "int"}],
            "output": {"type": "string", "value": "[format('node-{0}', string(parameters('i')))]"}}}}],
        "resources": [{"name": "root", "type": "Microsoft.DSC/Group", "properties": {"resources": []}}, {
            "name": "[bench.name(copyIndex())]",
            "type": "Microsoft.DSC/Group",
            "copy": {"name": "nodes", "count": count},
            "condition": "[greaterOrEquals(copyIndex(), 0)]",
            "dependsOn": ["[if(equals(copyIndex(), 0), resourceId('Microsoft.DSC/Group', 'root'), resourceId('Microsoft.DSC/Group', bench.name(sub(copyIndex(), 1))))]"],
            "properties": {"resources": []},
        }],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traek", default="target/release/traek")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for n in (1, a.count):
            doc = document(n)
            if n == 1:
                doc["resources"][1].pop("dependsOn")
            paths[n] = f"{d}/copy{n}.json"
            with open(paths[n], "w") as f:
                json.dump(doc, f)
        times = {1: [], a.count: []}
        for _ in range(a.runs):
            for n, p in paths.items():
                t = time.perf_counter()
                r = subprocess.run([a.traek, "config", "set", "--what-if", "-f", p, "-o", "json"],
                                   capture_output=True, env={"DSC_RESOURCE_PATH": d})
                times[n].append(time.perf_counter() - t)
                if r.returncode != 0:
                    raise SystemExit(f"traek failed: {r.stderr.decode()}")
                if n == a.count:
                    results = json.loads(r.stdout)["results"]
                    assert len(results) == a.count + 1, len(results)
        for n, ts in times.items():
            print(f"copy count {n:>5}: median {statistics.median(ts) * 1000:.1f} ms "
                  f"(min {min(ts) * 1000:.1f}) over {a.runs} runs")


if __name__ == "__main__":
    main()
