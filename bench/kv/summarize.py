#!/usr/bin/python3
"""summarize.py: the tables of bench/kv/run, from its results.tsv.

The one idea: absolute figures on a shared machine drift with the hour and
even from one minute to the next, so a ratio divides figures of the same
round (measured minutes apart at most) and the ratio printed is the median
of the rounds' ratios. Every other figure is the median over the rounds,
each on its own (p99 is the median of the rounds' p99s). The range over the rounds is shown beside each
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
                (float(ops), float(p50), float(p99), int(errors), int(_rnd)))
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


def ratio_of_rounds(rows_a, rows_b, index):
    """Median over the rounds of a/b, pairing figures of the same round."""
    by_round = {r[4]: r[index] for r in rows_b if r[index] > 0}
    ratios = [r[index] / by_round[r[4]] for r in rows_a if r[4] in by_round]
    return f"{statistics.median(ratios):.2f}x" if ratios else "—"


def table(runs, api, base, others, rows, title):
    """One row per load: base's figures, then each other system's, then their ratios to base."""
    print(f"### {title}")
    print()
    head = f"| load | {base} ops/s | {base} p50 ms | {base} p99 ms "
    for o in others:
        head += f"| {o} ops/s | {o} p50 ms | {o} p99 ms "
    for o in others:
        head += f"| {o}/{base} ops/s | {o}/{base} p99 "
    print(head + "|")
    print("|---" + "|---:" * (3 + 5 * len(others)) + "|")
    for label, op, conns, pipeline in rows:
        b_rows = runs.get((base, api, op, conns, pipeline), [])
        c_rows = [runs.get((o, api, op, conns, pipeline), []) for o in others]
        b = median_of(b_rows)
        cs = [median_of(rows) for rows in c_rows]
        line = f"| {label} | {fmt_ops(b)} | {fmt_ms(b, 'p50')} | {fmt_ms(b, 'p99')} "
        for c in cs:
            line += f"| {fmt_ops(c)} | {fmt_ms(c, 'p50')} | {fmt_ms(c, 'p99')} "
        for rows in c_rows:
            line += f"| {ratio_of_rounds(rows, b_rows, 0)} | {ratio_of_rounds(rows, b_rows, 2)} "
        print(line + "|")
    print()


def per_round(runs):
    """Every round's throughput, so a drift within the run is seen."""
    print("### Every round (ops/s)")
    print()
    print("| system | api | load | conns | pipeline | ops/s by round |")
    print("|---|---|---|---:|---:|---|")
    for (system, api, op, conns, pipeline), rows in sorted(runs.items()):
        print(f"| {system} | {api} | {op} | {conns} | {pipeline} | "
              + ", ".join(f"{r[0]:,.0f}" for r in rows) + " |")
    print()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: summarize.py RESULTS_TSV ROUNDS")
    runs = load(sys.argv[1])
    rounds = int(sys.argv[2])
    what = ("medians of %d rounds, range of ops/s in brackets; ratios: median of the rounds' ratios"
            % rounds if rounds > 1 else "one round")
    table(runs, "http", "etcd", ["consist"], [
        ("durable put, 1 conn", "put", "1", "-"),
        ("durable put, 50 conns", "put", "50", "-"),
        ("linearizable get, 1 conn", "get", "1", "-"),
        ("linearizable get, 50 conns", "get", "50", "-"),
    ], f"HTTP, wrk: consist vs etcd ({what})")
    table(runs, "resp", "redis", ["consist", "consist-1node"], [
        ("SET, 50 conns, -P 1", "set", "50", "1"),
        ("GET, 50 conns, -P 1", "get", "50", "1"),
        ("SET, 50 conns, -P 16", "set", "50", "16"),
        ("GET, 50 conns, -P 16", "get", "50", "16"),
    ], f"RESP, redis-benchmark: consist (3 nodes, and 1 node) vs Redis appendfsync always ({what})")
    per_round(runs)


if __name__ == "__main__":
    main()
