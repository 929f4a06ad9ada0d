#!/usr/bin/env bash
# server_members.sh: membership at run time on real consistd processes on
# 127.0.0.1. Three nodes take writes; node 4 starts with --join (no
# membership of its own), is added as a learner (RAFT ADD: its address is
# replicated through the log), catches up, is promoted, and takes leadership
# (RAFT TRANSFER). Node 1 is removed and stopped, then node 2 is killed: the
# three voters left are {2, 3, 4}, so {3, 4} is still a majority and writes go
# on, which they could not with four voters. Node 2 is wiped, re-added as a
# learner and catches up by snapshot (snapshot-every 16): its own state holds
# every acknowledged write. Errors: a command to a follower names the leader,
# adding a member twice, promoting a stranger, a bad address, reserved keys.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_python_redis
dir=$(mktemp -d)
declare -A pids
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
            [ -n "${CS_KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
base=$((10000 + ($$ % 100) * 20)) # below the ephemeral range (32768+)
# start I [--join] PEERS...: node I knowing the listed peers
start() {
    local i=$1; shift
    local args=() j
    [ "${1:-}" = "--join" ] && { args+=(--join); shift; }
    for j in "$@"; do args+=(--peer "$j" "127.0.0.1:$((base + 5 + j))"); done
    "$BIN" --node-id "$i" --port $((base + i)) --peer-port $((base + 5 + i)) --dir "$dir/n$i" \
        --http-port 0 --snapshot-every 16 \
        --election-timeout-ms 300 --heartbeat-interval-ms 50 --request-timeout-ms 2000 \
        "${args[@]}" >>"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
}
start 1 2 3; start 2 1 3; start 3 1 2

$PY - "$base" "$BIN" "$dir" "${pids[1]}" "${pids[2]}" "${pids[3]}" <<'PY'
import os, shutil, signal, subprocess, sys, time
import redis
base = int(sys.argv[1]); BIN = sys.argv[2]; DIR = sys.argv[3]
procs = {1: int(sys.argv[4]), 2: int(sys.argv[5]), 3: int(sys.argv[6])}
def start(i, peers, join):
    args = [BIN, "--node-id", str(i), "--port", str(base + i), "--peer-port", str(base + 5 + i),
            "--dir", "%s/n%d" % (DIR, i), "--http-port", "0", "--snapshot-every", "16",
            "--election-timeout-ms", "300", "--heartbeat-interval-ms", "50",
            "--request-timeout-ms", "2000"] + (["--join"] if join else [])
    for j in peers: args += ["--peer", str(j), "127.0.0.1:%d" % (base + 5 + j)]
    log = open("%s/n%d.log" % (DIR, i), "a")
    p = subprocess.Popen(args, stdout=log, stderr=log)
    procs[i] = p.pid
    with open(DIR + "/pids", "a") as f: f.write("%d\n" % p.pid)
def kill(i): os.kill(procs[i], signal.SIGKILL)
def port(i): return base + i
def r(i): return redis.Redis(port=port(i), socket_timeout=5)
fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond: fails += 1
def role(i):
    try: return r(i).info().get("raft_role")
    except Exception: return None
def leader(ids, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for i in ids:
            if role(i) == "leader": return i
        time.sleep(0.1)
    return None
def retry(fn, timeout=10):
    """Membership commands answer TRYAGAIN while a change or catch-up is in progress."""
    deadline = time.time() + timeout
    while True:
        try: return fn()
        except redis.exceptions.ResponseError as e:
            if "TRYAGAIN" not in str(e) or time.time() > deadline: raise
        time.sleep(0.2)
def members(i):
    info = r(i).info()
    return int(info.get("raft_voters", -1))
def errmsg(fn):
    try: fn(); return ""
    except redis.exceptions.ResponseError as e: return str(e)

L = leader([1, 2, 3])
if L is None: sys.exit("FAIL: no leader of three")
acked = {}
def write(i, n, tag):
    for k in range(n):
        key = "%s%d" % (tag, k)
        retry(lambda: r(i).set(key, key))
        acked[key] = key
write(L, 40, "a")

# ---- errors first ----
f = [i for i in (1, 2, 3) if i != L][0]
check("TRYAGAIN" in errmsg(lambda: r(f).execute_command("RAFT", "PROMOTE", 4)) and
      ("node %d" % L) in errmsg(lambda: r(f).execute_command("RAFT", "PROMOTE", 4)),
      "RAFT on a follower names the leader")
check("not a member" in errmsg(lambda: r(L).execute_command("RAFT", "PROMOTE", 9)), "promoting a stranger")
check("already a member" in errmsg(lambda: r(L).execute_command("RAFT", "ADD", f, "127.0.0.1:1")),
      "adding a member twice")
check("address" in errmsg(lambda: r(L).execute_command("RAFT", "ADD", 9, "nohost")), "a bad address")
check("reserved" in errmsg(lambda: r(L).set(b"\xff\xffconsist:peer:1", "x")), "reserved keys refused")

# ---- node 4 joins as a learner, is promoted, takes leadership ----
start(4, [1, 2, 3], True); time.sleep(0.5)
check(retry(lambda: r(L).execute_command("RAFT", "ADD", 4, "127.0.0.1:%d" % (base + 9))) in (True, b"OK"),
      "RAFT ADD 4 (learner)")
check(retry(lambda: r(L).execute_command("RAFT", "PROMOTE", 4), 15) in (True, b"OK"), "RAFT PROMOTE 4 once caught up")
check(members(L) == 4, "four voters")
check(r(4).dbsize() == len(acked), "node 4's own state holds all %d keys (dbsize %d)" % (len(acked), r(4).dbsize()))
check(retry(lambda: r(L).execute_command("RAFT", "TRANSFER", 4)) in (True, b"OK"), "RAFT TRANSFER 4")
check(leader([4], 5) == 4, "node 4 leads")
write(2, 20, "b")  # through a follower, forwarded to the new leader

# ---- remove node 1, kill node 2: {3, 4} is a majority of {2, 3, 4} ----
check(retry(lambda: r(4).execute_command("RAFT", "REMOVE", 1)) in (True, b"OK"), "RAFT REMOVE 1")
check(members(4) == 3, "three voters")
kill(1); kill(2); time.sleep(0.5)
write(3, 20, "c")
check(True, "writes go on with node 1 removed and node 2 down")

# ---- node 2 wiped and re-added: it catches up by snapshot ----
check(retry(lambda: r(4).execute_command("RAFT", "REMOVE", 2)) in (True, b"OK"), "RAFT REMOVE 2 (wiped)")
shutil.rmtree("%s/n2" % DIR); start(2, [1, 3, 4], True); time.sleep(0.5)
snap = int(r(4).info().get("raft_snapshot_index", 0))
check(snap > 16, "the leader's log starts after its snapshot at %d: a wiped node needs the snapshot" % snap)
check(retry(lambda: r(4).execute_command("RAFT", "ADD", 2, "127.0.0.1:%d" % (base + 7))) in (True, b"OK"),
      "RAFT ADD 2 again")
check(retry(lambda: r(4).execute_command("RAFT", "PROMOTE", 2), 15) in (True, b"OK"), "RAFT PROMOTE 2")
c2 = r(2); c2.execute_command("CONSISTENCY", "session")
w = r(4); w.execute_command("CONSISTENCY", "session"); w.set("last", "z"); acked["last"] = "z"
c2.execute_command("SESSION", "USE", w.execute_command("SESSION"))
missing = [k for k in acked if c2.get(k) != acked[k].encode()]
check(not missing, "node 2, wiped and re-added, serves all %d writes from its own state (missing %s)"
      % (len(acked), missing[:3]))
sys.exit(1 if fails else 0)
PY
rc=$?
[ -f "$dir/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done <"$dir/pids"
[ $rc = 0 ] || tail -n 8 "$dir"/*.log
exit $rc
