#!/usr/bin/env python3
"""`traek agent` benchmark. Not a test: prints numbers.

    cargo build --release -p dsc-cli -p dsc-pull-server
    python3 benches/agent.py [--runs 30] [--agents 500] [--parallel 8]

1. Idle RSS of `traek agent run` (the loop, waiting for its next cycle).
2. A cycle with nothing to do (GetDscAction answers Ok, test finds no drift) against the time
   of the resources' own test processes run directly: the agent's overhead. The package holds
   5 resources whose get is `cat` (so the synthetic test always matches); the baseline spawns
   the same 5 `cat` processes with the same input, interleaved with the cycles.
3. N agents registered and cycling against one SQLite traek-server (P at a time): cycle-time
   percentiles.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAEK = os.path.join(ROOT, "target/release/traek")
SERVER = os.path.join(ROOT, "target/release/traek-server")
KEY, TOKEN = "bench-registration-key", "bench-admin-token-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, env=None, check=True):
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise SystemExit(f"{args} failed ({r.returncode}): {r.stderr}")
    return r


def package(work, resources):
    src = os.path.join(work, "src")
    os.makedirs(os.path.join(src, "resources"), exist_ok=True)
    os.makedirs(os.path.join(src, "config"), exist_ok=True)
    with open(os.path.join(src, "app.dscpkg.yaml"), "w") as f:
        f.write("$schema: x\nmetadata: {name: bench, version: 1.0.0}\nresourcePath: [resources]\n"
                "configurationFile: config/app.dsc.yaml\n")
    with open(os.path.join(src, "resources/echo.dsc.resource.json"), "w") as f:
        json.dump({"$schema": "x", "type": "Bench/Echo", "version": "1.0.0",
                   "get": {"executable": "cat", "input": "stdin"},
                   "set": {"executable": "cat", "input": "stdin"}}, f)
    with open(os.path.join(src, "config/app.dsc.yaml"), "w") as f:
        f.write("$schema: x\nresources:\n")
        for i in range(resources):
            f.write(f"  - {{name: r{i}, type: Bench/Echo, properties: {{value: {i}}}}}\n")
    run([TRAEK, "package", "keygen", "--out", os.path.join(work, "k")])
    out = os.path.join(work, "bench.dscpkg")
    run([TRAEK, "package", "build", src, "-o", out, "--sign-key", os.path.join(work, "k.key")])
    return out


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--parallel", type=int, default=8)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="traek-agent-bench")
    port = free_port()
    data = os.path.join(work, "data")
    os.makedirs(data)
    with open(os.path.join(data, "RegistrationKeys.txt"), "w") as f:
        f.write(KEY + "\n")
    server = subprocess.Popen([SERVER, "--data-dir", data, "--listen", f"127.0.0.1:{port}",
                               "--admin-token", TOKEN], stderr=subprocess.DEVNULL)
    env = dict(os.environ, TRAEK_SERVER=f"http://127.0.0.1:{port}", TRAEK_ADMIN_TOKEN=TOKEN)
    env.pop("DSC_RESOURCE_PATH", None)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        pkg = package(work, 5)
        run([TRAEK, "server", "publish-package", "Bench", pkg], env=env)

        def register(name, interval="1h"):
            d = os.path.join(work, name)
            run([TRAEK, "agent", "register", "--allow-http", "--server", f"http://127.0.0.1:{port}/PSDSCPullServer.svc",
                 "--registration-key", KEY, "--configuration-name", "Bench", "--trusted-key",
                 os.path.join(work, "k.pub"), "--mode", "apply", "--interval", interval,
                 "--state-dir", d], env=env)
            return d

        # 2. Nothing-to-do cycles against the resources' own processes.
        d = register("single")
        run([TRAEK, "agent", "run", "--once", "--state-dir", d], env=env)  # first: download + apply
        cycle, direct = [], []
        inputs = [json.dumps({"value": i}) for i in range(5)]
        for _ in range(a.runs):
            t = time.perf_counter()
            r = run([TRAEK, "agent", "run", "--once", "--state-dir", d], env=env)
            cycle.append(time.perf_counter() - t)
            assert "compliant" in r.stdout, r.stdout
            t = time.perf_counter()
            for text in inputs:
                subprocess.run(["cat"], input=text, capture_output=True, text=True)
            direct.append(time.perf_counter() - t)
        mc, md = statistics.median(cycle) * 1000, statistics.median(direct) * 1000
        print(f"== nothing-to-do cycle, 5 resources, median of {a.runs} (interleaved)")
        print(f"traek agent run --once: {mc:.2f} ms; the 5 resource processes alone: {md:.2f} ms"
              f" -> the agent adds {mc - md:.2f} ms (budget 20 ms)")

        # 1. Idle RSS of the loop.
        loop = subprocess.Popen([TRAEK, "agent", "run", "--state-dir", d], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        with open(f"/proc/{loop.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        loop.terminate()
        loop.wait(10)
        print(f"== idle `traek agent run` RSS: {rss / 1024:.1f} MB (budget 10 MB)")

        # 3. A fleet of agents.
        print(f"== {a.agents} agents, {a.parallel} cycling at a time, one SQLite server")
        t = time.perf_counter()
        with ThreadPoolExecutor(a.parallel) as ex:
            dirs = list(ex.map(lambda i: register(f"fleet{i}"), range(a.agents)))
        print(f"registered in {time.perf_counter() - t:.1f} s")

        def one(d):
            t = time.perf_counter()
            r = run([TRAEK, "agent", "run", "--once", "--state-dir", d], env=env, check=False)
            return time.perf_counter() - t, r.returncode

        for label in ["first cycle (download, verify, apply)", "second cycle (nothing to do)"]:
            t = time.perf_counter()
            with ThreadPoolExecutor(a.parallel) as ex:
                results = list(ex.map(one, dirs))
            wall = time.perf_counter() - t
            times = [r[0] * 1000 for r in results]
            bad = sum(1 for r in results if r[1] != 0)
            print(f"{label}: p50 {percentile(times, 50):.1f} ms, p99 {percentile(times, 99):.1f} ms, "
                  f"max {max(times):.1f} ms, {a.agents / wall:.0f} cycles/s, failures {bad}")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
