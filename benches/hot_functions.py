#!/usr/bin/env python3
"""Writes dsc-cli/hot-functions.txt: the functions of `traek` that its short commands run.

  python3 benches/hot_functions.py [--traek target/release/traek]

The release build of `traek` hands the file to the linker (LLD's --symbol-ordering-file, see
dsc-cli/build.rs), which places those functions side by side. A command that runs for a few
milliseconds then faults in a few pages of code instead of pages scattered over the whole
binary. Run this again after large changes; names that no longer exist are skipped by the
linker, so a stale file costs speed, never correctness.

It runs each command once under valgrind's callgrind (names not demangled) and keeps, in order
of first call, every function defined in the binary.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dsc-cli", "hot-functions.txt")
CAT = {
    "$schema": "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json",
    "type": "Bench/Cat",
    "version": "1.0.0",
    "get": {"executable": "cat", "input": "stdin"},
    "set": {"executable": "cat", "input": "stdin"},
    "test": {"executable": "cat", "input": "stdin"},
    "schema": {"embedded": {"type": "object", "properties": {"name": {"type": "string"}}}},
}
DOC = """$schema: https://aka.ms/dsc/schemas/v3/bundled/config/document.json
resources:
- name: one
  type: Bench/Cat
  properties:
    name: "[concat('a', 'b')]"
"""


def scenarios(d):
    with open(os.path.join(d, "cat.dsc.resource.json"), "w") as f:
        json.dump(CAT, f)
    doc = os.path.join(d, "doc.yaml")
    with open(doc, "w") as f:
        f.write(DOC)
    listing = os.path.join(d, "many")
    os.mkdir(listing)
    for i in range(100):
        with open(os.path.join(listing, f"r{i:03d}.dsc.resource.json"), "w") as f:
            json.dump(dict(CAT, type=f"Bench/R{i:03d}"), f)
    return [
        (d, ["--version"]),
        (d, ["resource", "get", "-r", "Bench/Cat", "-i", '{"name":"x"}']),
        (d, ["resource", "test", "-r", "Bench/Cat", "-i", '{"name":"x"}']),
        (d, ["resource", "set", "-r", "Bench/Cat", "-i", '{"name":"x"}']),
        (listing, ["resource", "list", "Bench/*"]),
        (d, ["config", "get", "-f", doc]),
    ]


def defined_functions(binary):
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {p[2] for p in (l.split() for l in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traek", default="target/release/traek")
    args = ap.parse_args()
    binary = os.path.abspath(args.traek)
    defined = defined_functions(binary)
    order, seen = [], set()
    with tempfile.TemporaryDirectory() as d:
        for path, argv in scenarios(d):
            out = os.path.join(d, "callgrind.out")
            env = dict(os.environ, DSC_RESOURCE_PATH=path)
            subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
                            binary] + argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            names = {}
            with open(out, errors="replace") as f:
                for line in f:
                    m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                    if not m:
                        continue
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    name = names.get(m.group(1))
                    if name in defined and name not in seen:
                        seen.add(name)
                        order.append(name)
    with open(OUT, "w") as f:
        f.write("\n".join(order) + "\n")
    print(f"{len(order)} functions written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
