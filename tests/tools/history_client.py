#!/usr/bin/env python3
"""history_client.py: record a Jepsen-style history of a 3-node consistd
cluster under faults, for `consist check` (tests/cluster/server_history.sh).

The one idea: every client operation is written down twice, at its invoke
(before the request leaves) and at its completion (after the reply, or the
error, came back), appended under one lock, so the file's event order is a
real-time order. What an error means decides the completion: -TRYAGAIN means
the command certainly did not take effect (`fail`); -NOQUORUM, a dropped
connection or a timeout leave it unknown (`info`), and that client then
carries on as a new process, because its op stays open to the end of the
history. Written values are unique, so a read names the write it saw.

Subcommands:
  run    start the nodes, run the workload under faults (kill -9 the
         leader and restart it, twice; SIGSTOP the leader, then SIGCONT;
         SIGSTOP a follower, then SIGCONT and read from it at once),
         verify durability, write the history (JSONL, docs/check.md).
  plant  rewrite one ok read of a recorded history into a violation
         (`unwritten`: a value nobody wrote; `stale`: a value certainly
         overwritten before the read began; `lost`: a final read finds no
         value where a write was acknowledged), to show the checker can fail.
Exit status: 0 done, 1 a check failed (the message says which), 2 usage.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import redis

NODES = 3
KEYS = 5  # the shared registers k0..k4: small, so ops collide
THREADS_MAX = 6
OPS_PER_THREAD_MAX = 50000
SECONDS_MAX = 60
LEADER_WAIT_S = 10.0
FINAL_CHUNK = 64  # keys per MGET (the server's limit is 64)
FINAL_PROCESS_BASE = 1_000_000  # the final reads' processes; clients stay below


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


class Cluster:
    """Three consistd processes on loopback; ports base+i (RESP), base+5+i (peers)."""

    def __init__(self, consistd, data_dir, base):
        self.consistd, self.dir, self.base = consistd, data_dir, base
        self.procs = {}

    def port(self, i):
        return self.base + i

    def start(self, i):
        peers = []
        for j in range(1, NODES + 1):
            if j != i:
                peers += ["--peer", str(j), "127.0.0.1:%d" % (self.base + 5 + j)]
        log = open(os.path.join(self.dir, "n%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(
            [self.consistd, "--node-id", str(i), "--port", str(self.port(i)),
             "--peer-port", str(self.base + 5 + i), "--http-port", "0",
             "--dir", os.path.join(self.dir, "n%d" % i),
             "--election-timeout-ms", "300", "--heartbeat-interval-ms", "50",
             "--request-timeout-ms", "2000"] + peers,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.write_pids()

    def kill(self, i):
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.write_pids()

    def write_pids(self):
        # The shell's EXIT trap kills these if this process dies first.
        with open(os.path.join(self.dir, "pids"), "w") as f:
            f.write(" ".join(str(p.pid) for p in self.procs.values()) + "\n")

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i)

    def wait_ping(self, i):
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            try:
                if redis.Redis(port=self.port(i), socket_timeout=1).ping():
                    return
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                fail("node %d does not answer PING after its restart" % i)
            time.sleep(0.01)

    def leader(self, nodes):
        for i in nodes:
            try:
                info = redis.Redis(port=self.port(i), socket_timeout=1).info()
                if info.get("raft_role") == "leader":
                    return i
            except redis.exceptions.RedisError:
                pass
        return None

    def wait_leader(self, nodes, what):
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            i = self.leader(nodes)
            if i is not None:
                return i
            if time.monotonic() > deadline:
                fail("no leader among nodes %s %s" % (sorted(nodes), what))
            time.sleep(0.05)


class History:
    """The event log: one lock, so append order is a real-time order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.t0 = time.monotonic_ns()
        self.last_fault_at = 0  # events before it were logged before the last fault ended
        # fail: -TRYAGAIN (read, write); cas-0: a cas answered :0 (a `fail`
        # too, but a real result: its compare failed); dropped: a cas that
        # got -TRYAGAIN.
        self.counts = {"ok": 0, "fail": 0, "cas-0": 0, "info": 0, "dropped": 0}

    def add(self, process, typ, f, key, value, counted_as=None):
        ev = {"process": process, "type": typ, "f": f, "key": key}
        if value is not None or f == "read" and typ == "ok":
            ev["value"] = value
        with self.lock:
            ev["time"] = (time.monotonic_ns() - self.t0) // 1000
            self.events.append(ev)
            if typ != "invoke":
                self.counts[counted_as or typ] += 1
            return len(self.events) - 1

    def mark_last_fault(self):
        with self.lock:
            self.last_fault_at = len(self.events)

    def ok_after_last_fault(self):
        """Client ops invoked after the last fault ended that completed ok:
        the cluster serves again."""
        invoked, n = set(), 0
        for ev in self.events[self.last_fault_at:]:
            if ev is None:
                continue
            if ev["type"] == "invoke" and ev["process"] < FINAL_PROCESS_BASE:
                invoked.add(ev["process"])
            elif ev["type"] == "ok" and ev["process"] in invoked:
                n += 1
        return n

    def drop(self, invoke_index):
        # A cas that got -TRYAGAIN certainly did not run; a `fail` would claim
        # its compare failed, so the op leaves the history instead.
        with self.lock:
            self.events[invoke_index] = None
            self.counts["dropped"] += 1

    def write(self, path):
        with open(path, "w") as f:
            for ev in self.events:
                if ev is not None:
                    f.write(json.dumps(ev, separators=(",", ":")) + "\n")


class Workload:
    def __init__(self, args, cluster, hist):
        self.args, self.cluster, self.hist = args, cluster, hist
        self.alive = set(range(1, NODES + 1))
        self.alive_lock = threading.Lock()
        self.stop_at = time.monotonic() + args.seconds
        self.acked_unique = {}  # key -> value of each acknowledged write of a fresh key
        self.unexpected = []

    def pick_node(self, rng):
        with self.alive_lock:
            return rng.choice(sorted(self.alive))

    @staticmethod
    def choose(rng, t, n, seen):
        """Op n of client t: (f, key, argument); every written value unique."""
        value = (t + 1) * 10_000_000 + n
        roll = rng.random()
        if roll < 0.10:
            return "write", "u%d:%d" % (t, n), value  # a fresh key: durability of each ack
        key = "k%d" % rng.randrange(KEYS)
        if roll < 0.50:
            return "read", key, None
        if roll < 0.80:
            return "write", key, value
        return "cas", key, [seen.get(key, value - 1), value]

    @staticmethod
    def execute(c, f, key, arg):
        """Run one op; (completion type, value to record). Errors raise."""
        if f == "read":
            got = c.get(key)
            return "ok", None if got is None else int(got)
        if f == "write":
            if c.set(key, str(arg)) is not True:
                raise RuntimeError("SET answered other than OK")
            return "ok", arg
        swapped = c.execute_command("CAS", key, str(arg[0]), str(arg[1]))
        if swapped not in (0, 1):
            raise RuntimeError("CAS answered %r" % (swapped,))
        return ("ok" if swapped else "fail"), arg

    def client(self, t):
        a, hist = self.args, self.hist
        rng = random.Random(a.seed * 1000003 + t)
        conns = {i: redis.Redis(port=self.cluster.port(i), socket_timeout=3,
                                socket_connect_timeout=1) for i in range(1, NODES + 1)}
        process = t
        seen = {}  # key -> the last value this client read or wrote there
        for n in range(a.ops):
            if time.monotonic() > self.stop_at:
                return
            c = conns[self.pick_node(rng)]
            f, key, arg = self.choose(rng, t, n, seen)
            at = hist.add(process, "invoke", f, key, arg)
            unknown = None  # why the op's fate is unknown, if it is
            try:
                typ, value = self.execute(c, f, key, arg)
                hist.add(process, typ, f, key, value,
                         counted_as="cas-0" if typ == "fail" else None)
                if typ == "ok" and value is not None:
                    seen[key] = value if f != "cas" else value[1]
                if typ == "ok" and key[0] == "u":
                    with hist.lock:
                        self.acked_unique[key] = value
            except redis.exceptions.ResponseError as e:
                msg = str(e)
                if msg.startswith("TRYAGAIN"):  # certainly not applied
                    if f == "cas":
                        hist.drop(at)
                    else:
                        hist.add(process, "fail", f, key, arg)
                    time.sleep(0.02)
                elif msg.startswith("NOQUORUM"):
                    unknown = ""
                else:
                    unknown = msg
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                unknown = ""  # the node died or stopped mid-request
                time.sleep(0.02)
            except (redis.exceptions.RedisError, RuntimeError, ValueError) as e:
                unknown = str(e)  # a reply redis-py could not read, a value not an integer
            if unknown is not None:
                hist.add(process, "info", f, key, arg)
                process += a.threads  # its op stays open: go on as a new process
                if unknown:
                    with hist.lock:
                        self.unexpected.append("%s %s: %s" % (f, key, unknown))

    def set_alive(self, i, up):
        with self.alive_lock:
            (self.alive.add if up else self.alive.discard)(i)

    def nemesis(self):
        """At fixed fractions of the run: kill -9 the leader, restart it; kill
        -9 the new leader, restart it; then SIGSTOP the leader while clients
        keep sending to it, and SIGCONT it once another node leads: a deposed
        leader that wakes up with requests queued must not answer them from
        its stale state. Returns the nodes, all live again."""
        cl, nodes = self.cluster, list(range(1, NODES + 1))
        t0 = time.monotonic()

        def at(fraction):
            time.sleep(max(0.0, t0 + fraction * self.args.seconds - time.monotonic()))

        def next_leader(victim, what):
            t = time.monotonic()
            others = [i for i in nodes if i != victim]
            new = cl.wait_leader(others, "after %s of node %d" % (what, victim))
            print("%s leader %d; node %d leads after %.2f s"
                  % (what, victim, new, time.monotonic() - t), flush=True)

        for kill_at in (0.15, 0.40):
            at(kill_at)
            victim = cl.wait_leader(nodes, "before kill -9")
            self.set_alive(victim, False)  # clients stop choosing it before it dies
            cl.kill(victim)
            next_leader(victim, "kill -9")
            at(kill_at + 0.15)
            cl.start(victim)
            # Clients go to it as soon as it answers, while it still catches
            # up: a node that answered reads from its own state would be seen.
            cl.wait_ping(victim)
            self.set_alive(victim, True)
        at(0.65)
        victim = cl.wait_leader(nodes, "before SIGSTOP")
        cl.procs[victim].send_signal(signal.SIGSTOP)  # it stays a client target
        next_leader(victim, "SIGSTOP")
        time.sleep(0.5)  # requests pile up on it, under the client timeout
        cl.procs[victim].send_signal(signal.SIGCONT)
        # A follower falls behind: stopped while the others take writes, then
        # read from at once, while it catches up. A follower that answered
        # reads from its own state would now return overwritten values.
        at(0.80)
        leader = cl.wait_leader(nodes, "before a follower's SIGSTOP")
        victim = next(i for i in nodes if i != leader)
        self.set_alive(victim, False)
        cl.procs[victim].send_signal(signal.SIGSTOP)
        at(0.90)
        cl.procs[victim].send_signal(signal.SIGCONT)
        self.set_alive(victim, True)
        print("SIGSTOP follower %d for %.2f s" % (victim, self.args.seconds * 0.1), flush=True)
        self.hist.mark_last_fault()
        return nodes

    def final_reads(self, nodes):
        """Read every key on each node, as ops of the history too, so the
        checker proves the acknowledged writes are there; compare here too."""
        hist, missing = self.hist, 0
        keys = ["k%d" % i for i in range(KEYS)] + sorted(self.acked_unique)
        process = FINAL_PROCESS_BASE
        for i in nodes:
            c = redis.Redis(port=self.cluster.port(i), socket_timeout=5)
            for at in range(0, len(keys), FINAL_CHUNK):
                chunk = keys[at:at + FINAL_CHUNK]
                # One MGET: its reads are concurrent ops, one process each.
                for j, k in enumerate(chunk):
                    hist.add(process + j, "invoke", "read", k, None)
                try:
                    got = c.mget(chunk)
                except redis.exceptions.RedisError as e:
                    fail("final MGET on node %d: %s" % (i, e))
                for j, (k, v) in enumerate(zip(chunk, got)):
                    v = None if v is None else int(v)
                    hist.add(process + j, "ok", "read", k, v)
                    if k in self.acked_unique and v != self.acked_unique[k]:
                        missing += 1
                        if missing <= 5:
                            print("FAIL: %s on node %d: %r, acknowledged %r"
                                  % (k, i, v, self.acked_unique[k]))
                process += len(chunk)
        return missing

    def converge(self, nodes):
        """The restarted nodes catch up: DBSIZE (the node's own state
        machine) equal on every node within the leader wait."""
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            sizes = []
            for i in nodes:
                try:
                    sizes.append(redis.Redis(port=self.cluster.port(i), socket_timeout=1).dbsize())
                except redis.exceptions.RedisError:
                    sizes.append(None)
            if None not in sizes and len(set(sizes)) == 1:
                return sizes[0]
            if time.monotonic() > deadline:
                fail("nodes %s do not converge: DBSIZE %s" % (nodes, sizes))
            time.sleep(0.1)


def run(args):
    cluster = Cluster(args.consistd, args.dir, args.base)
    try:
        for i in range(1, NODES + 1):
            cluster.start(i)
        cluster.wait_leader(range(1, NODES + 1), "at start")
        hist = History()
        w = Workload(args, cluster, hist)
        threads = [threading.Thread(target=w.client, args=(t,), daemon=True)
                   for t in range(args.threads)]
        for th in threads:
            th.start()
        nodes = w.nemesis()
        for th in threads:
            th.join()
        missing = w.final_reads(nodes)
        keys = w.converge(nodes)
        hist.write(args.out)
        c = hist.counts
        print("history: %d events; ok %d, cas answered 0 %d, fail (TRYAGAIN) %d, info %d, "
              "cas dropped on TRYAGAIN %d; %d fresh-key writes acknowledged; %d keys on "
              "each node" % (sum(e is not None for e in hist.events), c["ok"], c["cas-0"],
                             c["fail"], c["info"], c["dropped"], len(w.acked_unique), keys),
              flush=True)
        if w.unexpected:
            fail("%d unexpected replies, first: %s" % (len(w.unexpected), w.unexpected[0]))
        if missing:
            fail("%d acknowledged writes missing" % missing)
        after = hist.ok_after_last_fault()
        print("%d ops invoked after the last fault completed ok" % after, flush=True)
        if after < args.acked_min:
            fail("only %d ops completed ok after the last fault (want at least %d)"
                 % (after, args.acked_min))
        if len(w.acked_unique) < args.acked_min:
            fail("only %d fresh-key writes acknowledged (want at least %d)"
                 % (len(w.acked_unique), args.acked_min))
    finally:
        cluster.stop_all()


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def pair(events):
    """Ops as (invoke index, completion index or None) by process."""
    open_by_process, ops = {}, []
    for at, ev in enumerate(events):
        if ev["type"] == "invoke":
            open_by_process[ev["process"]] = len(ops)
            ops.append([at, None])
        else:
            ops[open_by_process.pop(ev["process"])][1] = at
    return ops


def plant(args):
    events = load(args.input)
    ops = pair(events)
    rng = random.Random(args.seed)
    ok_reads = [(i, c) for i, c in ops
                if c is not None and events[c]["type"] == "ok" and events[i]["f"] == "read"
                and events[c].get("value") is not None]
    if not ok_reads:
        fail("no ok read with a value to corrupt")
    if args.mode == "lost":
        # A final read of a fresh key whose write was acknowledged now finds
        # nothing: the write was lost.
        fresh = {events[i]["key"] for i, c in ops if c is not None
                 and events[i]["f"] == "write" and events[c]["type"] == "ok"
                 and events[i]["key"].startswith("u")}
        finals = [c for i, c in ops if events[i]["process"] >= FINAL_PROCESS_BASE
                  and events[i]["key"] in fresh]
        if not finals:
            fail("no final read of an acknowledged fresh key")
        c = rng.choice(finals)
        events[c]["value"] = None
        print("planted: final read of %s at event %d finds nothing" % (events[c]["key"], c))
    elif args.mode == "unwritten":
        _, c = rng.choice(ok_reads)
        events[c]["value"] = 999_999_999  # no client writes values this large
        print("planted: read at event %d now returns 999999999, never written" % c)
    else:
        # w is certainly overwritten before the read: its ok write completed
        # before another ok write (or swap) of the key began, which completed
        # before the read began; values are unique, so nothing writes w again.
        writes = {}
        for i, c in ops:
            ev = events[i]
            if c is not None and events[c]["type"] == "ok" and ev["f"] in ("write", "cas"):
                writes.setdefault(ev["key"], []).append((i, c, ev["value"]))
        candidates = []
        for ri, rc in ok_reads:
            key = events[ri]["key"]
            ws = [w for w in writes.get(key, []) if w[1] < ri]
            for w1 in ws:
                if events[w1[0]]["f"] != "write":
                    continue
                if any(w2[0] > w1[1] and w2[1] < ri for w2 in ws):
                    candidates.append((rc, w1[2], key))
                    break
        if not candidates:
            fail("no read has a certainly overwritten write before it")
        rc, stale, key = rng.choice(candidates)
        events[rc]["value"] = stale
        print("planted: read of %s at event %d now returns %d, certainly overwritten"
              % (key, rc, stale))
    with open(args.output, "w") as f:
        for ev in events:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--consistd", required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--base", type=int, required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--threads", type=int, default=5)
    r.add_argument("--ops", type=int, default=2000, help="ops per thread at most")
    r.add_argument("--seconds", type=float, default=10.0)
    r.add_argument("--acked-min", type=int, default=20)
    p = sub.add_parser("plant")
    p.add_argument("--in", dest="input", required=True)
    p.add_argument("--out", dest="output", required=True)
    p.add_argument("--mode", choices=("unwritten", "stale", "lost"), required=True)
    p.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "run":
        if not (1 <= args.threads <= THREADS_MAX and 1 <= args.ops <= OPS_PER_THREAD_MAX
                and 0 < args.seconds <= SECONDS_MAX):
            ap.error("--threads 1..%d, --ops 1..%d, --seconds (0, %d]"
                     % (THREADS_MAX, OPS_PER_THREAD_MAX, SECONDS_MAX))
        print("seed %d (the op mix replays from it; timing does not)" % args.seed, flush=True)
        run(args)
    else:
        plant(args)


if __name__ == "__main__":
    main()
