#!/usr/bin/env python3
"""Benchmark of `traek package verify`. Not a test: prints numbers.

  python3 benches/package_verify.py [--traek target/release/traek] [--mb 200] [--runs 5]

Builds a package holding MB megabytes of random (incompressible) content in files of mixed sizes
(one large, some medium, many small), then times, interleaved in one run (medians):
  A. traek package verify PKG
  B. unzip -p PKG | sha256sum          (decompress everything and hash it once)
and reports the peak RSS of traek (ru_maxrss of the child, measured in a fresh helper process).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def peak_rss_kb(cmd):
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    return int(subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True).stdout)


def timed(cmd, shell=False):
    start = time.perf_counter()
    subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traek", default="target/release/traek")
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    traek = os.path.abspath(args.traek)
    total = args.mb << 20
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        os.makedirs(os.path.join(src, "resources", "small"))
        with open(os.path.join(src, "bench.dscpkg.yaml"), "w") as f:
            f.write("$schema: x\nresourcePath: [resources]\nconfigurationFile: config.dsc.yaml\n")
        with open(os.path.join(src, "config.dsc.yaml"), "w") as f:
            f.write("$schema: x\nresources: []\n")
        sizes = [total // 2] + [total // 40] * 10 + [total // 4 // 1000] * 1000
        for i, size in enumerate(sizes):
            sub = "small" if size < (1 << 20) else ""
            with open(os.path.join(src, "resources", sub, f"f{i:04d}.bin"), "wb") as f:
                f.write(os.urandom(size))
        pkg = os.path.join(d, "bench.dscpkg")
        subprocess.run([traek, "package", "build", src, "-o", pkg], check=True, stdout=subprocess.DEVNULL)
        verify = [traek, "package", "verify", pkg]
        unzip = f"unzip -p {pkg} | sha256sum"
        timed(verify)
        timed(unzip, shell=True)
        a, b = [], []
        for _ in range(args.runs):
            a.append(timed(verify))
            b.append(timed(unzip, shell=True))
        ma, mb = statistics.median(a), statistics.median(b)
        rss = peak_rss_kb(verify)
        print(f"package: {os.path.getsize(pkg) / 1e6:.1f} MB on disk, {sum(sizes) / 1e6:.1f} MB content in {len(sizes) + 2} files")
        print(f"traek package verify: median {ma:.3f} s; unzip -p | sha256sum: median {mb:.3f} s; ratio {ma / mb:.2f}x (runs={args.runs})")
        print(f"traek peak RSS: {rss / 1024:.1f} MB")


if __name__ == "__main__":
    main()
