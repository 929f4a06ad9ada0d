#!/usr/bin/env bash
# server_ports.sh: garbage, oversized and truncated input on every port of
# three real consistd processes, while a client keeps writing and reading.
# Peer port: random bytes, a cut header, a header (valid checksum) announcing
# a 1 GiB payload, a RAFT frame before any hello, a well-formed hello from a
# stranger followed by a RAFT frame of noise, more idle connections than
# PEER_INBOUND_MAX. RESP and HTTP: a command cut mid-bulk then a close, binary
# noise, an oversized multibulk count and head. Every node must stay up, the
# leader keep its place, the client see no error, and every write it made be
# on every node afterwards.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
need_python_redis
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
            [ -n "${CS_KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
base=$((6000 + ($$ % 100) * 20)) # below the ephemeral range (32768+)
for i in 1 2 3; do
    peers=()
    for j in 1 2 3; do [ "$j" != "$i" ] && peers+=(--peer "$j" "127.0.0.1:$((base + 5 + j))"); done
    "$BIN" --node-id "$i" --port $((base + i)) --peer-port $((base + 5 + i)) --dir "$dir/n$i" \
        --http-port $((base + 10 + i)) --election-timeout-ms 500 --heartbeat-interval-ms 50 \
        "${peers[@]}" >>"$dir/n$i.log" 2>&1 &
    pids+=($!)
done
$PY - "$base" "${pids[@]}" "$dir" <<'PY'
import os, random, socket, struct, sys, threading, time
import redis

base = int(sys.argv[1]); pids = [int(p) for p in sys.argv[2:5]]; DIR = sys.argv[5]
ports = [base + 1, base + 2, base + 3]
peer_ports = [base + 6, base + 7, base + 8]
http_ports = [base + 11, base + 12, base + 13]
rng = random.Random(7)
fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond: fails += 1

# CRC32C (Castagnoli), reflected, as cs_crc32c.
TABLE = []
for n in range(256):
    c = n
    for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data: c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def frame(ftype, group, payload, claimed_len=None):
    n = len(payload) if claimed_len is None else claimed_len
    rest = struct.pack("<IIBBHQ", crc32c(payload), n, ftype, 0, 0, group)
    return struct.pack("<I", crc32c(rest)) + rest + payload
def hello(node_id, cluster=b"consist"):
    return frame(1, 0, struct.pack("<HHQ", 1, 1, node_id) + bytes([len(cluster)]) + cluster)

def closed_by_server(port, data, wait=3.0):
    """Send data; True if the server closes the connection (EOF or reset) in time."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(data)
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                if s.recv(65536) == b"": return True
            except socket.timeout: return False
            except ConnectionResetError: return True
        return False
    finally:
        s.close()
def send_and_close(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(data); s.close()

def leader():
    for p in ports:
        try:
            if redis.Redis(port=p, socket_timeout=1).info().get("raft_role") == "leader": return p
        except Exception: pass
    return None
deadline = time.time() + 10
while leader() is None:
    if time.time() > deadline: sys.exit("FAIL: no leader of three")
    time.sleep(0.1)
lead0 = leader()

# A client writes and reads all along, through a follower (forwarding) and the leader.
stop = threading.Event(); written = {}; errors = []
def client():
    rs = [redis.Redis(port=p, socket_timeout=5) for p in ports]
    n = 0
    while not stop.is_set() and n < 20000:
        k = "c%d" % n
        try:
            rs[n % 3].set(k, n); written[k] = str(n)
            if rs[(n + 1) % 3].get(k) != str(n).encode(): errors.append("read of %s" % k)
        except redis.RedisError as e:
            errors.append(str(e))
        n += 1
t = threading.Thread(target=client); t.start()

for pp in peer_ports:
    check(closed_by_server(pp, bytes(rng.getrandbits(8) for _ in range(4096))), "peer %d: random bytes -> closed" % pp)
    send_and_close(pp, frame(2, 1, b"x" * 100)[:10])
    check(closed_by_server(pp, frame(2, 1, b"", claimed_len=1 << 30)[:24]),
          "peer %d: a header announcing 1 GiB -> closed at once, no payload awaited" % pp)
    check(closed_by_server(pp, frame(2, 1, b"\x01\x02\x03")), "peer %d: RAFT before hello -> closed" % pp)
    check(closed_by_server(pp, hello(99, b"another")), "peer %d: hello of another cluster -> closed" % pp)
    # Framed correctly, so the transport keeps the link; the Raft decoder refuses it.
    noise = bytes(rng.getrandbits(8) for _ in range(300))
    send_and_close(pp, hello(99) + frame(2, 1, noise))
for i in (1, 2, 3):
    deadline = time.time() + 3
    while time.time() < deadline and "peer 99: bad Raft message" not in open("%s/n%d.log" % (DIR, i)).read():
        time.sleep(0.1)
    check("peer 99: bad Raft message" in open("%s/n%d.log" % (DIR, i)).read(),
          "node %d: a stranger's well-framed RAFT frame of noise is refused by the decoder" % i)
# More idle peer connections than the node accepts (PEER_INBOUND_MAX = 64).
idle = []
for _ in range(80):
    try: idle.append(socket.create_connection(("127.0.0.1", peer_ports[0]), timeout=2))
    except OSError: pass
time.sleep(0.5)
for s in idle: s.close()
check(len(idle) >= 64, "80 idle peer connections opened (%d), then closed" % len(idle))

for p in ports:
    send_and_close(p, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nonly")   # cut mid-bulk
    check(closed_by_server(p, b"*99999999999\r\n"), "resp %d: oversized multibulk count -> closed" % p)
    check(closed_by_server(p, b"\x00\xff\x13garbage\r\n" * 50 + b"*1\r\n$-5\r\n"), "resp %d: binary noise -> closed" % p)
for hp in http_ports:
    send_and_close(hp, b"PUT /v1/kv/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nshort")
    check(closed_by_server(hp, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n"),
          "http %d: oversized head -> answered and closed" % hp)

time.sleep(0.5); stop.set(); t.join()
check(not errors, "the client saw no error during all of it (%d writes; %s)" % (len(written), errors[:3]))
check(all(os.path.exists("/proc/%d" % p) and open("/proc/%d/stat" % p).read().split()[2] != "Z" for p in pids),
      "every node is still running")
check(leader() == lead0, "the leader kept its place")
missing = 0
for p in ports:
    c = redis.Redis(port=p, socket_timeout=5)
    keys = sorted(written)
    for i in range(0, len(keys), 64):
        chunk = keys[i:i + 64]
        missing += sum(1 for k, v in zip(chunk, c.mget(chunk)) if v is None or v.decode() != written[k])
check(len(written) > 100 and missing == 0, "all %d writes on every node" % len(written))
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc = 0 ] || tail -n 5 "$dir"/*.log
exit $rc
