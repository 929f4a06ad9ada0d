#!/usr/bin/env python3
"""gen_hot_key.py: a hot-key cas-register history with many info ops, the kind
Porcupine is slow on (bench/check/RESULTS.md, "Hot key").

usage: gen_hot_key.py SEED OPS INFO_FRACTION CORRUPT(0|1|2) VALUES [unique] > h.jsonl

Ops get linearization points 100 apart and windows up to 800 wide on 20
client processes (a process that sees info never returns, as in Jepsen);
half reads, 30% writes, 20% cas. With CORRUPT=1 one late read returns a value
written at least 30 ops before it (usually not linearizable).

With "unique" (VALUES is then ignored): a plain register, no cas, every write
a fresh value (1, 2, 3, ...), so the zones test applies (src/check/unique.c);
half reads, half writes, the same windows, info writes and corruption.
CORRUPT=2 instead re-points one late read at a value written 2 to 8 writes
before the current one: a new-old inversion among overlapping ops, which no
single write certainly overwrote (the stale-read test cannot see it)."""
import json
import random
import sys

seed, n, info_p, corrupt, vals = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
unique = len(sys.argv) > 6 and sys.argv[6] == 'unique'
fresh = 0
random.seed(seed)
procs, busy, ops, state, next_proc = 20, {}, [], None, 20
written = []
for i in range(n):
    point = 100 * (i + 1)
    inv = point - 1 - random.randrange(800); comp = point + 1 + random.randrange(800)
    cands = [p for p in range(next_proc) if busy.get(p, -10**9) < inv]
    if cands: p = random.choice(cands)
    else: p = next_proc; next_proc += 1
    r = random.random()
    if r < 0.5: op = dict(f='read', inv=None, res=state)
    elif r < 0.8 or unique:
        if unique: fresh += 1; v = fresh
        else: v = random.randrange(vals)
        op = dict(f='write', inv=v, res=v); state = v; written.append((i, v))
    else:
        a = state if random.random() < 0.5 else random.randrange(vals); b = random.randrange(vals)
        ok = a == state
        if ok: state = b; written.append((i, b))
        op = dict(f='cas', inv=[a, b], res=[a, b], failed=not ok)
    typ = 'ok'
    if op['f'] != 'read' and random.random() < info_p: typ = 'info'
    if op['f'] == 'cas' and op.get('failed') and typ == 'ok': typ = 'fail'
    op.update(p=p, invt=inv, compt=comp, type=typ, idx=i)
    busy[p] = 10**12 if typ == 'info' else comp
    ops.append(op)
if corrupt:
    reads = [o for o in ops if o['f'] == 'read' and o['type'] == 'ok' and o['idx'] > n // 2]
    o = random.choice(reads)
    if corrupt == 1:
        old = [v for (i, v) in written if i < o['idx'] - 30]
    else:
        before = [v for (i, v) in written if i < o['idx']]
        old = before[-9:-2] if len(before) > 9 else before[:1]
    o['res'] = random.choice(old)
ev = sorted([(o['invt'], 0, i) for i, o in enumerate(ops)] + [(o['compt'], 1, i) for i, o in enumerate(ops)])
for t, c, i in ev:
    o = ops[i]
    d = {"process": o['p'], "type": "invoke" if c == 0 else o['type'], "f": o['f']}
    v = o['inv'] if c == 0 else o['res']
    if c == 1 and o['type'] == 'info': v = None
    if v is not None or (c == 1 and o['f'] == 'read'): d["value"] = v
    print(json.dumps(d))
