#!/usr/bin/env python3
"""Per-call cost of a resource get through libtraek (in process, via ctypes) against the same get
through the `traek` CLI (one process per call), on a resource whose get is `cat`.
Not a test: prints numbers.

  cargo build --release -p dsc-ffi -p dsc-cli && python3 benches/ffi_overhead.py [--calls 200]
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import tempfile
import time

MANIFEST = {"$schema": "x", "type": "Bench/Cat", "version": "1.0.0", "get": {"executable": "cat", "input": "stdin"}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="target/release/libtraek.so")
    ap.add_argument("--traek", default="target/release/traek")
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    lib = ctypes.CDLL(os.path.abspath(args.lib))
    P = ctypes.c_void_p
    lib.traek_engine_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(P)]
    lib.traek_resource_invoke.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(P)]
    lib.traek_string_free.argtypes = [P]
    lib.traek_engine_free.argtypes = [P]
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "cat.dsc.resource.json"), "w") as f:
            json.dump(MANIFEST, f)
        engine = P()
        assert lib.traek_engine_new(json.dumps({"resourcePath": [d]}).encode(), ctypes.byref(engine)) == 0
        out = P()
        payload = b'{"name":"bench","n":1}'
        ffi, cli = [], []
        env = dict(os.environ, DSC_RESOURCE_PATH=d)
        cmd = [os.path.abspath(args.traek), "resource", "get", "-r", "Bench/Cat", "-i", payload.decode()]
        for _ in range(5):
            lib.traek_resource_invoke(engine, b"get", b"Bench/Cat", None, payload, 0, ctypes.byref(out))
            lib.traek_string_free(out)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        for _ in range(args.calls):
            s = time.perf_counter()
            r = lib.traek_resource_invoke(engine, b"get", b"Bench/Cat", None, payload, 0, ctypes.byref(out))
            ffi.append(time.perf_counter() - s)
            assert r == 0
            lib.traek_string_free(out)
            s = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
            cli.append(time.perf_counter() - s)
        lib.traek_engine_free(engine)
        mf, mc = statistics.median(ffi), statistics.median(cli)
        print(f"resource get (cat) through the C ABI: median {mf*1000:.3f} ms per call")
        print(f"resource get (cat) through the traek CLI: median {mc*1000:.3f} ms per call")
        print(f"the C ABI saves {(mc-mf)*1000:.3f} ms per call ({mc/mf:.1f}x faster), calls={args.calls}")


if __name__ == "__main__":
    main()
