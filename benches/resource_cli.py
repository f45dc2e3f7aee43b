#!/usr/bin/env python3
"""Whole-process benchmarks of the traek CLI. Not a test: prints numbers.

  python3 benches/resource_cli.py [--traek target/release/traek] [--runs 50]

1. `traek resource get` on a resource whose get is `cat` (input on stdin), against running
   `cat` directly with the same stdin: median wall time of each, interleaved in one run, and
   the difference (what traek adds).
2. `traek resource list` over 1,000 manifests in one directory: median wall time.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

PLAIN = {
    "$schema": "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json",
    "type": "Bench/Cat",
    "version": "1.0.0",
    "get": {"executable": "cat", "input": "stdin"},
}
MANIFEST = {
    "$schema": "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json",
    "type": "Bench/Cat",
    "version": "1.0.0",
    "get": {"executable": "cat", "input": "stdin"},
    "schema": {"embedded": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}},
}


def timed(cmd, env, stdin):
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed: {p.stderr.decode()}")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traek", default="target/release/traek")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    traek = os.path.abspath(args.traek)
    payload = b'{"name":"bench","n":1}'
    for label, manifest in (("no instance schema", PLAIN), ("embedded instance schema", MANIFEST)):
        bench_get(traek, payload, manifest, label, args.runs)
    bench_list(traek, args.runs)


def bench_get(traek, payload, manifest, label, runs):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "cat.dsc.resource.json"), "w") as f:
            json.dump(manifest, f)
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        cat = subprocess.run(["which", "cat"], capture_output=True, text=True).stdout.strip()
        traek_cmd = [traek, "resource", "get", "-r", "Bench/Cat", "-i", payload.decode()]
        for _ in range(5):  # warm up caches
            timed(traek_cmd, env, None)
            timed([cat], env, payload)
        t_traek, t_cat = [], []
        for _ in range(runs):
            t_traek.append(timed(traek_cmd, env, None))
            t_cat.append(timed([cat], env, payload))
        mt, mc = statistics.median(t_traek), statistics.median(t_cat)
        print(f"resource get (cat, {label}): traek median {mt*1000:.2f} ms, cat directly {mc*1000:.2f} ms, "
              f"traek adds {(mt-mc)*1000:.2f} ms  (runs={runs})")


def bench_list(traek, runs):

    with tempfile.TemporaryDirectory() as d:
        for i in range(1000):
            m = dict(MANIFEST, type=f"Bench/Res{i:04d}", description=f"resource number {i}")
            with open(os.path.join(d, f"res{i:04d}.dsc.resource.json"), "w") as f:
                json.dump(m, f)
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        cmd = [traek, "resource", "list", "Bench/*"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
        assert len(out.splitlines()) == 1000, "expected 1000 resources listed"
        for _ in range(3):
            timed(cmd, env, None)
        times = [timed(cmd, env, None) for _ in range(max(20, runs // 2))]
        print(f"resource list (1,000 manifests): median {statistics.median(times)*1000:.2f} ms, "
              f"min {min(times)*1000:.2f} ms, max {max(times)*1000:.2f} ms")


if __name__ == "__main__":
    main()
