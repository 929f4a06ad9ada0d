#!/usr/bin/env bash
# server_failover.sh: kill -9 the leader of three nodes under a bounded write
# load (python3-redis clients, 4 threads, each at most 400 writes and 20 s):
# the two others elect a new leader, writes go on through them, and every
# write that was acknowledged (+OK) is read back afterwards from both
# survivors. A write that got an error other than -TRYAGAIN (NOQUORUM, a
# dropped connection) is indeterminate and is not required either way.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_python_redis
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; [ -n "${CS_KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
base=$((21000 + ($$ % 200) * 20))
for i in 1 2 3; do
    peers=()
    for j in 1 2 3; do [ "$j" != "$i" ] && peers+=(--peer "$j" "127.0.0.1:$((base + 5 + j))"); done
    "$BIN" --node-id "$i" --port $((base + i)) --peer-port $((base + 5 + i)) --dir "$dir/n$i" \
        --http-port $((base + 10 + i)) \
        --election-timeout-ms 300 --heartbeat-interval-ms 50 --request-timeout-ms 2000 \
        "${peers[@]}" >>"$dir/n$i.log" 2>&1 &
    pids+=($!)
done
$PY - "$base" "${pids[@]}" <<'PY'
import os, signal, sys, threading, time
import redis

base = int(sys.argv[1]); pids = [int(p) for p in sys.argv[2:5]]
ports = [base + 1, base + 2, base + 3]
def leader(alive):
    for p in alive:
        try:
            info = redis.Redis(port=p, socket_timeout=1).info()
            if info.get("raft_role") == "leader":
                return p
        except Exception:
            pass
    return None
deadline = time.time() + 10
while leader(ports) is None:
    if time.time() > deadline: sys.exit("FAIL: no leader of three")
    time.sleep(0.1)
old = leader(ports)
alive = [p for p in ports if p != old]
acked, unknown = {}, 0
lock = threading.Lock()
stop_at = time.time() + 20
def writer(t):
    global unknown
    clients = [redis.Redis(port=p, socket_timeout=3) for p in ports]
    for n in range(400):
        if time.time() > stop_at: return
        key, val = "w%d:%d" % (t, n), str(n)
        for attempt in range(50):            # bounded retries of a write that surely failed
            c = clients[(n + attempt) % 3]
            try:
                if c.set(key, val):
                    with lock: acked[key] = val
                break
            except redis.exceptions.ResponseError as e:
                if str(e).startswith("TRYAGAIN"):
                    time.sleep(0.05); continue  # certainly not applied: retry
                with lock: unknown += 1          # NOQUORUM: fate unknown
                break
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                with lock: unknown += 1          # the node died mid-request: fate unknown
                break
threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
for t in threads: t.start()
time.sleep(0.5)
os.kill(pids[ports.index(old)], signal.SIGKILL)
for t in threads: t.join()
deadline = time.time() + 10
while leader(alive) is None:
    if time.time() > deadline: sys.exit("FAIL: no new leader after kill -9")
    time.sleep(0.1)
print("acknowledged %d, indeterminate %d, old leader %d, new leader %d"
      % (len(acked), unknown, old, leader(alive)))
if len(acked) < 100: sys.exit("FAIL: fewer than 100 writes acknowledged")
missing = 0
for p in alive:
    c = redis.Redis(port=p, socket_timeout=5)
    keys = sorted(acked)
    for i in range(0, len(keys), 64):
        chunk = keys[i:i + 64]
        for k, v in zip(chunk, c.mget(chunk)):
            if v is None or v.decode() != acked[k]:
                missing += 1
                if missing < 5: print("FAIL: %s on %d: %r, acknowledged %r" % (k, p, v, acked[k]))
if missing: sys.exit("FAIL: %d acknowledged writes missing" % missing)
print("all ok")
PY
rc=$?
[ $rc = 0 ] || tail -n 5 "$dir"/*.log
exit $rc
