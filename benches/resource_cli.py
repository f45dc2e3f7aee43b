#!/usr/bin/env python3
"""Whole-process benchmarks of the traek CLI. Not a test: prints numbers.

  python3 benches/resource_cli.py [--traek target/release/traek] [--baseline OTHER ...] [--runs 60]

1. `traek resource get` on a resource whose get is `cat` (input on stdin), against running
   `cat` directly with the same stdin: median wall time of each and the difference (what traek
   adds), with and without an embedded instance schema.
2. `traek resource list` over 1,000 manifests in one directory: median wall time.

With `--baseline`, each other binary runs interleaved with `--traek` in the same loop (one run
of each in turn), so a noisy machine moves them alike and the ratio between them holds.
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
MANIFEST = dict(
    PLAIN,
    schema={"embedded": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}},
)


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
    ap.add_argument("--baseline", action="append", default=[], help="another traek binary to run alongside")
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()
    binaries = [os.path.abspath(b) for b in [args.traek] + args.baseline]
    payload = b'{"name":"bench","n":1}'
    for label, manifest in (("no instance schema", PLAIN), ("embedded instance schema", MANIFEST)):
        bench_get(binaries, payload, manifest, label, args.runs)
    bench_list(binaries, args.runs)


def name(binary, binaries):
    return "traek" if len(binaries) == 1 else binary


def bench_get(binaries, payload, manifest, label, runs):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "cat.dsc.resource.json"), "w") as f:
            json.dump(manifest, f)
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        cat = subprocess.run(["which", "cat"], capture_output=True, text=True).stdout.strip()
        commands = {b: [b, "resource", "get", "-r", "Bench/Cat", "-i", payload.decode()] for b in binaries}
        for _ in range(5):  # warm up caches
            for cmd in commands.values():
                timed(cmd, env, None)
            timed([cat], env, payload)
        times = {b: [] for b in binaries}
        t_cat = []
        for _ in range(runs):
            for b, cmd in commands.items():
                times[b].append(timed(cmd, env, None))
            t_cat.append(timed([cat], env, payload))
        mc = statistics.median(t_cat)
        print(f"resource get (cat, {label}), runs={runs}: cat directly {mc*1000:.2f} ms")
        for b in binaries:
            mt = statistics.median(times[b])
            print(f"  {name(b, binaries)}: median {mt*1000:.2f} ms, adds {(mt-mc)*1000:.2f} ms")


def bench_list(binaries, runs):
    with tempfile.TemporaryDirectory() as d:
        for i in range(1000):
            m = dict(MANIFEST, type=f"Bench/Res{i:04d}", description=f"resource number {i}")
            with open(os.path.join(d, f"res{i:04d}.dsc.resource.json"), "w") as f:
                json.dump(m, f)
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        commands = {b: [b, "resource", "list", "Bench/*"] for b in binaries}
        for cmd in commands.values():
            out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
            assert len(out.splitlines()) == 1000, "expected 1000 resources listed"
            for _ in range(3):
                timed(cmd, env, None)
        times = {b: [] for b in binaries}
        for _ in range(max(20, runs // 2)):
            for b, cmd in commands.items():
                times[b].append(timed(cmd, env, None))
        print("resource list (1,000 manifests):")
        for b in binaries:
            t = times[b]
            print(f"  {name(b, binaries)}: median {statistics.median(t)*1000:.2f} ms, "
                  f"min {min(t)*1000:.2f} ms, max {max(t)*1000:.2f} ms")


if __name__ == "__main__":
    main()
