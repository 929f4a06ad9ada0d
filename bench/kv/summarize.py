#!/usr/bin/python3
"""summarize.py: the tables of bench/kv/run, from its results.tsv.

The one idea: every figure printed is the median over the rounds of one
run, and every ratio divides two medians of that same run, because absolute
figures on a shared machine drift with the hour and only same-run ratios
compare the systems. The range over the rounds is shown beside each
throughput so a noisy figure is seen as noisy.

Usage: summarize.py RESULTS_TSV ROUNDS
Rows: system api load conns pipeline round ops_per_s p50_ms p99_ms errors
"""
import statistics
import sys
from collections import defaultdict


def load(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            system, api, op, conns, pipeline, _rnd, ops, p50, p99, errors = line.rstrip("\n").split("\t")
            runs[(system, api, op, conns, pipeline)].append(
                (float(ops), float(p50), float(p99), int(errors)))
    return runs


def median_of(rows):
    if not rows:
        return None
    return {
        "ops": statistics.median(r[0] for r in rows),
        "ops_lo": min(r[0] for r in rows),
        "ops_hi": max(r[0] for r in rows),
        "p50": statistics.median(r[1] for r in rows),
        "p99": statistics.median(r[2] for r in rows),
        "errors": sum(r[3] for r in rows),
        "n": len(rows),
    }


def fmt_ops(m):
    if m is None:
        return "missing"
    text = f"{m['ops']:,.0f}"
    if m["n"] > 1:
        text += f" ({m['ops_lo']:,.0f}–{m['ops_hi']:,.0f})"
    if m["errors"]:
        text += f" [{m['errors']} errors]"
    return text


def fmt_ms(m, key):
    return "missing" if m is None else f"{m[key]:.2f}"


def fmt_ratio(a, b, key):
    if a is None or b is None or b[key] == 0:
        return "—"
    return f"{a[key] / b[key]:.2f}x"


def table(runs, api, base, rows, title):
    print(f"### {title}")
    print()
    print(f"| load | {base} ops/s | {base} p50 ms | {base} p99 ms "
          f"| consist ops/s | consist p50 ms | consist p99 ms "
          f"| consist/{base} ops/s | consist/{base} p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, op, conns, pipeline in rows:
        b = median_of(runs.get((base, api, op, conns, pipeline), []))
        c = median_of(runs.get(("consist", api, op, conns, pipeline), []))
        print(f"| {label} | {fmt_ops(b)} | {fmt_ms(b, 'p50')} | {fmt_ms(b, 'p99')} "
              f"| {fmt_ops(c)} | {fmt_ms(c, 'p50')} | {fmt_ms(c, 'p99')} "
              f"| {fmt_ratio(c, b, 'ops')} | {fmt_ratio(c, b, 'p99')} |")
    print()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: summarize.py RESULTS_TSV ROUNDS")
    runs = load(sys.argv[1])
    rounds = int(sys.argv[2])
    what = "median of %d rounds (range of ops/s in brackets)" % rounds if rounds > 1 else "one round"
    table(runs, "http", "etcd", [
        ("durable put, 1 conn", "put", "1", "-"),
        ("durable put, 50 conns", "put", "50", "-"),
        ("linearizable get, 1 conn", "get", "1", "-"),
        ("linearizable get, 50 conns", "get", "50", "-"),
    ], f"HTTP, wrk: consist vs etcd ({what})")
    table(runs, "resp", "redis", [
        ("SET, 50 conns, -P 1", "set", "50", "1"),
        ("GET, 50 conns, -P 1", "get", "50", "1"),
        ("SET, 50 conns, -P 16", "set", "50", "16"),
        ("GET, 50 conns, -P 16", "get", "50", "16"),
    ], f"RESP, redis-benchmark: consist vs Redis appendfsync always ({what})")


if __name__ == "__main__":
    main()
