#!/usr/bin/env python3
"""Prints criterion results as a Markdown table, one row per benchmark group,
our figure beside the baseline's and the ratio.

Usage: scripts/criterion-table.py OURS BASELINE [GROUP_PREFIX...]
  e.g. scripts/criterion-table.py coap-codec coap-lite decode encode link_format
Reads target/criterion/<group>/<function>/new/estimates.json (the median).
"""
import json, os, sys

root = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
ours, base, prefixes = sys.argv[1], sys.argv[2], sys.argv[3:]

def median_ns(group_dir, fn):
    p = os.path.join(group_dir, fn, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["median"]["point_estimate"]

def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"

rows = []
for dirpath, dirnames, _ in os.walk(root):
    if os.path.isdir(os.path.join(dirpath, ours)) and os.path.isdir(os.path.join(dirpath, base)):
        group = os.path.relpath(dirpath, root)
        if prefixes and not any(group.startswith(p) for p in prefixes):
            continue
        o, b = median_ns(dirpath, ours), median_ns(dirpath, base)
        extra = [d for d in sorted(dirnames) if d not in (ours, base, "report")]
        if o and b:
            rows.append((group, o, b, [(d, median_ns(dirpath, d)) for d in extra]))
print(f"| case | {ours} | {base} | speed-up |")
print("|---|---:|---:|---:|")
for group, o, b, extra in sorted(rows):
    note = "".join(f" ({d}: {fmt(v)})" for d, v in extra if v)
    print(f"| {group} | {fmt(o)}{note} | {fmt(b)} | {b / o:.1f}x |")
