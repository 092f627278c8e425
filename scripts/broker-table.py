#!/usr/bin/env python3
"""Prints the results of scripts/broker-compare.sh as a Markdown table: one
row per case, one column per broker, the best run's figure (highest rate,
lowest latency, lowest memory) and every run's in brackets.

Usage: scripts/broker-table.py RESULTS_FILE
"""
import sys
from collections import defaultdict

rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
brokers = []
for r in rows:
    if r["broker"] not in brokers:
        brokers.append(r["broker"])

# (label, case, qos, how to show one run, key to rank runs, higher is better)
def rate_loss(r):
    return f"{int(float(r['rate'])):,} (lost {int(r['lost']):,})"

def lat(r):
    return f"{r['p50_us']} / {r['p99_us']} µs" + (f" (lost {r['lost']})" if r.get("lost", "0") != "0" else "")

cases = [
    ("fan-in QoS 0, msg/s", "fan-in", "0", rate_loss, "rate", True),
    ("fan-in QoS 1, msg/s", "fan-in", "1", rate_loss, "rate", True),
    ("fan-out QoS 0, msg/s delivered", "fan-out", "0", rate_loss, "rate", True),
    ("fan-out QoS 1, msg/s delivered", "fan-out", "1", rate_loss, "rate", True),
    ("latency QoS 0 p50 / p99", "latency", "0", lat, "p99_us", False),
    ("latency QoS 1 p50 / p99", "latency", "1", lat, "p99_us", False),
    ("connections/s (CONNECT+CONNACK)", "conn-rate", None, lambda r: f"{int(float(r['rate'])):,}", "rate", True),
    ("bytes per idle connection", "idle", None, lambda r: f"{int(float(r['bytes_per_conn'])):,}", "bytes_per_conn", False),
]

table = defaultdict(dict)
for label, case, qos, show, key, higher in cases:
    for b in brokers:
        runs = [r for r in rows if r["broker"] == b and r.get("case") == case and (qos is None or r.get("qos") == qos)]
        ok = [r for r in runs if r.get("status") != "failed"]
        if not runs:
            continue
        if not ok:
            table[label][b] = "failed"
            continue
        # The best run; a run with loss ranks after every run without.
        best = sorted(ok, key=lambda r: (int(r.get("lost", "0")) > 0, -float(r[key]) if higher else float(r[key])))[0]
        cell = show(best)
        if len(runs) > 1:
            cell += " [" + ", ".join("failed" if r.get("status") == "failed" else show(r).split(" (")[0] for r in runs) + "]"
        table[label][b] = cell

print("| case | " + " | ".join(brokers) + " |")
print("|---|" + "---|" * len(brokers))
for label, *_ in cases:
    if label in table:
        print(f"| {label} | " + " | ".join(table[label].get(b, "-") for b in brokers) + " |")
