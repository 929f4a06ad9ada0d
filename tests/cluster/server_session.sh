#!/usr/bin/env bash
# server_session.sh: key expiry, WATCH, and session consistency on three real
# consistd processes on 127.0.0.1, through python3-redis and curl.
# - The TTL commands answer as Redis does (TTL -2/-1, EX/PX/EXAT/PXAT/KEEPTTL,
#   SETEX, EXPIRE in the past deletes, PERSIST, INCR keeps the TTL), expired
#   keys read as absent on every node, and the leader's PURGE entries remove
#   them from every replica (DBSIZE falls back on all three).
# - WATCH: EXEC succeeds when nothing changed, returns null (nothing applied)
#   when another client wrote a watched key or it expired; limits at 32 keys.
# - Sessions: a token taken after a write on one node, adopted on another,
#   reads that write there; with the leader stopped (SIGSTOP), a follower
#   still serves session reads it has caught up with, while a linearizable
#   read there cannot be served.
# - HTTP: ttl_ms and the session token on /v1/kv.
# - kill -9 and restart of every node: TTLs survive.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_python_redis
command -v curl >/dev/null || { echo "FAIL: curl missing"; exit 1; }
dir=$(mktemp -d)
declare -A pids
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
            [ -n "${CS_KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
base=$((4000 + ($$ % 100) * 20)) # below the ephemeral range (32768+)
start() {
    local i=$1 peers=() j
    for j in 1 2 3; do [ "$j" != "$i" ] && peers+=(--peer "$j" "127.0.0.1:$((base + 5 + j))"); done
    "$BIN" --node-id "$i" --port $((base + i)) --peer-port $((base + 5 + i)) --dir "$dir/n$i" \
        --http-port $((base + 10 + i)) --snapshot-every 16 \
        --election-timeout-ms 300 --heartbeat-interval-ms 50 --request-timeout-ms 1500 \
        "${peers[@]}" >>"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
}
for i in 1 2 3; do start "$i"; done

$PY - "$base" "${pids[1]}" "${pids[2]}" "${pids[3]}" <<'PY'
import json, os, signal, subprocess, sys, time, urllib.request
import redis

base = int(sys.argv[1]); pids = [int(p) for p in sys.argv[2:5]]
ports = [base + 1, base + 2, base + 3]
fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    if not cond: fails += 1
def raises(fn, text):
    try: fn()
    except redis.exceptions.ResponseError as e: return text in str(e)
    return False
def leader(alive):
    for p in alive:
        try:
            if redis.Redis(port=p, socket_timeout=1).info().get("raft_role") == "leader": return p
        except Exception: pass
    return None
deadline = time.time() + 10
while leader(ports) is None:
    if time.time() > deadline: sys.exit("FAIL: no leader of three")
    time.sleep(0.1)
lp = leader(ports)
fol = [p for p in ports if p != lp]
a = redis.Redis(port=fol[0], socket_timeout=5)
b = redis.Redis(port=fol[1], socket_timeout=5)
L = redis.Redis(port=lp, socket_timeout=5)

# ---- TTL commands (through a follower: forwarded, then read back) ----
check(a.set("t1", "v", ex=100) and 98 <= a.ttl("t1") <= 100, "SET EX 100 -> TTL 98..100")
check(99000 <= a.pttl("t1") <= 100000, "PTTL in ms")
check(a.ttl("never") == -2 and a.pttl("never") == -2, "TTL of a missing key is -2")
a.set("t2", "v"); check(a.ttl("t2") == -1, "no TTL -> -1")
check(a.set("t1", "w", keepttl=True) and a.ttl("t1") > 90, "SET KEEPTTL keeps it")
a.set("t1", "x"); check(a.ttl("t1") == -1, "a plain SET clears it")
check(a.expire("t1", 50) and 48 <= a.ttl("t1") <= 50, "EXPIRE 50")
check(a.persist("t1") and a.ttl("t1") == -1, "PERSIST")
check(not a.persist("t1"), "PERSIST without a TTL -> 0")
check(not a.expire("missing", 10), "EXPIRE of a missing key -> 0")
a.set("n", 5, px=60000); a.incr("n")
check(a.get("n") == b"6" and a.pttl("n") > 50000, "INCR keeps the TTL")
check(a.setex("se", 30, "v") and 28 <= a.ttl("se") <= 30, "SETEX")
check(a.psetex("pse", 30000, "v") and 28000 <= a.pttl("pse") <= 30000, "PSETEX")
now = int(time.time())
check(a.set("at", "v", exat=now + 40) and 38 <= a.ttl("at") <= 40, "SET EXAT")
check(a.set("pat", "v", pxat=(now + 40) * 1000) and 38 <= a.ttl("pat") <= 40, "SET PXAT")
check(a.expireat("at", now - 10) and a.get("at") is None, "EXPIREAT in the past deletes")
a.set("neg", "v"); check(a.expire("neg", -1) and not a.exists("neg"), "EXPIRE -1 deletes")
check(raises(lambda: a.set("bad", "v", ex=0), "invalid expire time in 'set'"), "SET EX 0 refused")
check(raises(lambda: a.execute_command("SET", "bad", "v", "EX", "9223372036854775807"),
             "invalid expire time"), "SET EX past the clock's range refused")
check(raises(lambda: a.execute_command("SET", "bad", "v", "EX", "5", "PX", "5"), "syntax error"),
      "SET EX with PX refused")
check(raises(lambda: a.execute_command("EXPIRE", "t2", "5", "NX"), "not supported"),
      "EXPIRE NX answered honestly")
check(not a.exists("bad"), "refused SETs wrote nothing")

# ---- expiry: absent at once everywhere, then purged from every replica ----
before = [redis.Redis(port=p).dbsize() for p in ports]
for i in range(50): a.set("short%d" % i, "x", px=300)
time.sleep(0.5)
check(all(redis.Redis(port=p).get("short7") is None for p in ports), "expired keys read as absent on every node")
deadline = time.time() + 5
while time.time() < deadline and [redis.Redis(port=p).dbsize() for p in ports] != before:
    time.sleep(0.1)
check([redis.Redis(port=p).dbsize() for p in ports] == before, "PURGE removed them from every replica")

# ---- WATCH ----
a.set("w", "1")
p = a.pipeline(transaction=True); p.watch("w"); v = int(p.get("w")); p.multi(); p.set("w", v + 1)
check(p.execute() == [True] and a.get("w") == b"2", "WATCH, nothing changed: EXEC applies")
p = a.pipeline(transaction=True); p.watch("w"); p.get("w"); b.set("w", "100"); p.multi(); p.set("w", 5)
try: p.execute(); check(False, "WATCH conflict must abort")
except redis.WatchError: check(a.get("w") == b"100", "WATCH, another client wrote: EXEC null, nothing applied")
a.set("wx", "v", px=200)
p = a.pipeline(transaction=True); p.watch("wx"); time.sleep(0.4); p.multi(); p.set("other", 1)
try: p.execute(); check(False, "WATCH of an expiring key must abort")
except redis.WatchError: check(a.get("other") is None, "WATCH, the key expired: EXEC null")
p = a.pipeline(transaction=True); p.watch("u"); b.set("u", 1); p.unwatch(); p.multi(); p.set("u", 2)
check(p.execute() == [True] and a.get("u") == b"2", "UNWATCH forgets the watch")
c = redis.Redis(port=fol[0], socket_timeout=5)
check(c.execute_command("WATCH", *["k%d" % i for i in range(32)]) in (True, b"OK"), "WATCH of 32 keys (the limit)")
check(raises(lambda: c.execute_command("WATCH", "one-more"), "too many watched keys"), "33rd watched key refused")
c.execute_command("MULTI")
check(raises(lambda: c.execute_command("WATCH", "x"), ""), "WATCH inside MULTI refused")
c.execute_command("DISCARD")

# ---- sessions ----
check(a.execute_command("CONSISTENCY") == b"linearizable", "default consistency is linearizable")
a.execute_command("CONSISTENCY", "session")
a.set("s1", "v1")
tok = a.execute_command("SESSION")
check(tok.startswith(b"cs1-") and int(tok[4:]) > 0, "SESSION gives a token after a write: %r" % tok)
b.execute_command("CONSISTENCY", "session"); b.execute_command("SESSION", "USE", tok)
check(b.get("s1") == b"v1", "SESSION USE on another node reads that write")
check(int(b.execute_command("SESSION")[4:]) >= int(tok[4:]), "the token never goes back")
check(raises(lambda: b.execute_command("SESSION", "USE", "cs1-x"), "invalid session token"), "a bad token is refused")
check(raises(lambda: b.execute_command("CONSISTENCY", "eventual"), "unknown consistency"), "unknown level refused")
# The leader stops: a follower keeps serving the session reads it has caught up with.
a.set("s2", "v2"); tok = a.execute_command("SESSION")
time.sleep(0.3)   # heartbeats carry the commit to both followers
os.kill(pids[ports.index(lp)], signal.SIGSTOP)
try:
    b.execute_command("SESSION", "USE", tok)
    t0 = time.time(); got = b.get("s2")
    check(got == b"v2" and time.time() - t0 < 0.3, "leader stopped: a session read on a follower is served (%r)" % got)
    lin = redis.Redis(port=fol[1], socket_timeout=5)
    try: lin.get("s2"); check(False, "leader stopped: a linearizable read must not be served")
    except redis.exceptions.ResponseError as e:
        check("NOQUORUM" in str(e) or "TRYAGAIN" in str(e), "leader stopped: linearizable read refused (%s)" % e)
finally:
    os.kill(pids[ports.index(lp)], signal.SIGCONT)

# ---- HTTP: ttl_ms and session tokens ----
hp = base + 10 + ports.index(fol[0]) + 1
def http(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (hp, path), data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r: return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read())
deadline = time.time() + 10
while leader(ports) is None and time.time() < deadline: time.sleep(0.1)
st, j = http("PUT", "/v1/kv/h1?ttl_ms=60000", b"hv")
check(st == 200 and j["session"].startswith("cs1-"), "HTTP PUT with ttl_ms: %s %s" % (st, j))
check(50 <= a.ttl("h1") <= 60, "HTTP ttl_ms sets the TTL")
st, j2 = http("GET", "/v1/kv/h1?consistency=session&session=" + j["session"])
check(st == 200 and j2["value"] == "hv", "HTTP session read with the PUT's token")
st, _ = http("GET", "/v1/kv/h1?session=bogus")
check(st == 400, "HTTP bad token -> 400")
st, _ = http("PUT", "/v1/kv/h1?ttl_ms=0", b"x")
check(st == 400, "HTTP ttl_ms=0 -> 400")
st, _ = http("PUT", "/v1/kv/hmax?ttl_ms=%d" % (1 << 40), b"x")   # HTTP_TTL_MS_MAX: the limit
check(st == 200 and a.ttl("hmax") > 10**9, "HTTP ttl_ms at HTTP_TTL_MS_MAX (2^40) -> 200")
st, _ = http("PUT", "/v1/kv/hmax2?ttl_ms=%d" % ((1 << 40) + 1), b"x")
check(st == 400 and a.get("hmax2") is None, "HTTP ttl_ms one past HTTP_TTL_MS_MAX -> 400, nothing written")
# ---- /metrics counts reads as reads (served without the log) and times them ----
def metrics():
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hp, timeout=5) as r:
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out
m0 = metrics()
lin = redis.Redis(port=fol[0], socket_timeout=5)
commit0 = int(lin.info()["raft_commit_index"])
for i in range(20): lin.get("h1")
for i in range(5): lin.set("m%d" % i, "x")
try: lin.execute_command("GET")
except redis.exceptions.ResponseError: pass
m1 = metrics()
def delta(name): return m1.get(name, 0) - m0.get(name, 0)
k = 'consist_commands_total{interface="resp",kind="%s"}'
check(delta(k % "read_linearizable") == 20 and delta(k % "write") == 5,
      "metrics: 20 linearizable reads, 5 writes (%g, %g)" % (delta(k % "read_linearizable"), delta(k % "write")))
check(int(lin.info()["raft_commit_index"]) - commit0 <= 5 + 2, "reads did not go through the log")
check(delta('consist_request_duration_seconds_count{kind="read_linearizable"}') == 20 and
      delta('consist_request_duration_seconds_bucket{kind="read_linearizable",le="+Inf"}') == 20,
      "metrics: 20 read latencies in the histogram")
check(delta('consist_errors_total{code="ERR"}') == 1, "metrics: the wrong-arity error counted")
check(m1.get("consist_log_fsync_duration_seconds_count", 0) > 0, "metrics: fsync latency recorded")
a.set("keep", "v", ex=1000)
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc = 0 ] || { tail -n 5 "$dir"/*.log; exit $rc; }

# kill -9 and restart every node: the TTLs are durable like the values.
for i in 1 2 3; do kill -9 "${pids[$i]}"; done
sleep 0.3
for i in 1 2 3; do start "$i"; done
$PY - "$base" <<'PY'
import sys, time
import redis
base = int(sys.argv[1])
deadline = time.time() + 15
while True:
    try:
        t = redis.Redis(port=base + 1, socket_timeout=2).ttl("keep")
        if t > 0: break
    except redis.exceptions.ResponseError: pass
    except redis.exceptions.ConnectionError: pass
    if time.time() > deadline: sys.exit("FAIL: no answer after restart")
    time.sleep(0.2)
print(("ok   " if 990 <= t <= 1000 else "FAIL ") + "after kill -9 and restart, TTL is %d" % t)
sys.exit(0 if 990 <= t <= 1000 else 1)
PY
rc=$?
[ $rc = 0 ] || tail -n 5 "$dir"/*.log
exit $rc
