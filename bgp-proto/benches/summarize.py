#!/usr/bin/env python3
"""Prints the codec benchmark results as Markdown tables (medians).

usage: summarize.py [CRITERION_DIR]   (default: $CARGO_TARGET_DIR/criterion or target/criterion)

Reads <dir>/codec-fixtures.json (written by benches/codec.rs) and
<dir>/<fixture>/<codec>-<op>/new/estimates.json (criterion).
"""
import json
import os
import sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
fixtures = json.load(open(os.path.join(d, "codec-fixtures.json")))

for name, fx in fixtures.items():
    gdir = os.path.join(d, name)
    if not os.path.isdir(gdir):
        continue
    res = {}
    for bench in sorted(os.listdir(gdir)):
        est = os.path.join(gdir, bench, "new", "estimates.json")
        if os.path.exists(est):
            res[bench] = json.load(open(est))["median"]["point_estimate"]
    unit = "RIB record" if name.startswith("mrt") else "prefix"
    print(f"### {name}: {fx['bytes']} octets, {fx['prefixes']} {unit}{'s' if fx['prefixes'] != 1 else ''}\n")
    print(f"| codec | op | median | ns/{unit} | MB/s | ours is N x faster | x bare walk |")
    print("|---|---|---:|---:|---:|---:|---:|")
    walk = res.get("bare-walk")
    order = ["bare-walk", "ours", "zettabgp", "rustbgpd", "bgpkit", "netgauze"]

    def key(b):
        codec, _, op = b.rpartition("-")
        codec = codec or b
        return (next((i for i, o in enumerate(order) if codec.startswith(o)), 99), codec, op)

    for b in sorted(res, key=key):
        t = res[b]
        codec, _, op = b.rpartition("-")
        if b == "bare-walk":
            codec, op = "bare walk", "walk"
        ours = res.get("ours-" + op) if op in ("decode", "encode") else None
        ratio = f"{t / ours:.2f}" if ours and not codec.startswith("ours") else ""
        vs_walk = f"{t / walk:.2f}" if walk else ""
        med = f"{t / 1000:.2f} µs" if t >= 1000 else f"{t:.1f} ns"
        mbs = fx["bytes"] / t * 1e3  # bytes per ns = GB/s; x1000 = MB/s
        print(f"| {codec} | {op} | {med} | {t / fx['prefixes']:.2f} | {mbs:.0f} | {ratio} | {vs_walk} |")
    print()
