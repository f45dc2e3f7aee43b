#!/usr/bin/env python3
"""Benchmark of `traek config get` over 50 independent trivial resources. Not a test.

  python3 benches/config_get.py [--traek target/release/traek] [--runs 20]

Each resource `cat`s its input. Compares, interleaved in one run (medians):
  A. `traek config get` on the 50-resource document;
  B. spawning the same 50 `cat` processes directly (sequentially, input on stdin) from a `sh`
     loop, minus the start-up of `sh` itself (a fork+exec from a tiny shell is about the cheapest
     way to start a process, so this baseline is strict).
Prints the per-resource overhead of traek: (A - B) / 50.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

N = 50
MANIFEST = {
    "$schema": "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json",
    "type": "Bench/Cat",
    "version": "1.0.0",
    "get": {"executable": "cat", "input": "stdin"},
}
DRIVER = "i=0; while [ $i -lt %d ]; do cat < \"$1\" > /dev/null; i=$((i+1)); done\n" % N


def timed(cmd, env):
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed: {p.stderr.decode()[:500]}")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traek", default="target/release/traek")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    traek = os.path.abspath(args.traek)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "cat.dsc.resource.json"), "w") as f:
            json.dump(MANIFEST, f)
        doc = {"$schema": "https://aka.ms/dsc/schemas/v3/bundled/config/document.json",
               "resources": [{"name": f"r{i}", "type": "Bench/Cat", "properties": {"name": f"r{i}", "n": i}} for i in range(N)]}
        docpath = os.path.join(d, "bench.dsc.json")
        with open(docpath, "w") as f:
            json.dump(doc, f)
        driver = os.path.join(d, "driver.sh")
        with open(driver, "w") as f:
            f.write(DRIVER)
        sample = os.path.join(d, "input.json")
        with open(sample, "w") as f:
            f.write('{"name":"r1","n":1}')
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        traek_cmd = [traek, "config", "get", "-f", docpath]
        direct_cmd = ["sh", driver, sample]
        empty_cmd = ["sh", "-c", "true"]
        for _ in range(3):
            timed(traek_cmd, env)
            timed(direct_cmd, env)
        a, b, c = [], [], []
        for _ in range(args.runs):
            a.append(timed(traek_cmd, env))
            b.append(timed(direct_cmd, env))
            c.append(timed(empty_cmd, env))
        ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
        spawn_only = mb - mc  # the 50 spawns, without the Python interpreter's own start-up
        print(f"traek config get, {N} resources: median {ma*1000:.1f} ms")
        print(f"{N} cat processes spawned directly: median {spawn_only*1000:.1f} ms "
              f"(sh loop {mb*1000:.1f} ms minus sh start-up {mc*1000:.1f} ms)")
        print(f"traek overhead per resource: {(ma - spawn_only) / N * 1000:.3f} ms (runs={args.runs})")


if __name__ == "__main__":
    main()
