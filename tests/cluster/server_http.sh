#!/usr/bin/env bash
# server_http.sh: the HTTP/JSON port of a real consistd, driven by curl and a
# raw socket. PUT/GET/DELETE /v1/kv/{key} (and the value is the one RESP
# sees), 404 for a missing key or path, 405 for a wrong method, 400 for a bad
# consistency level, /v1/cluster and /healthz JSON, /metrics text; two
# requests on one keep-alive connection and two pipelined in one write;
# garbage and an oversized head get a 4xx JSON error and the connection
# closes while the server keeps serving. Every wait is bounded.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
base=$((23000 + ($$ % 200) * 20))
H=http://127.0.0.1:$((base + 3))
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
"$BIN" --port $((base + 1)) --peer-port $((base + 2)) --http-port $((base + 3)) --dir "$dir/n" \
    --election-timeout-ms 200 --heartbeat-interval-ms 50 >"$dir/log" 2>&1 &
pid=$!
for ((t = 0; t < 100; t++)); do
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' $H/healthz)" = 200 ] && break
    sleep 0.1
done
# expect CODE BODY-SUBSTRING -- curl args...
expect() {
    local code=$1 want=$2; shift 3
    local out got
    out=$(curl -s -m 10 -w '\n%{http_code}' "$@")
    got=${out##*$'\n'}
    out=${out%$'\n'*}
    if [ "$got" != "$code" ] || [ "${out#*"$want"}" = "$out" ]; then
        fail "curl $* -> $got '$out' (want $code '$want')"
    else echo "ok   curl $* -> $got"; fi
}
expect 200 '"status":"ok"' -- $H/healthz
expect 200 '"ok":true' -- -X PUT --data-binary 'hello "world"' $H/v1/kv/greet
expect 200 '"value":"hello \"world\""' -- $H/v1/kv/greet
[ "$(timeout 5 redis-cli -p $((base + 1)) get greet)" = 'hello "world"' ] || fail "RESP does not see the HTTP write"
timeout 5 redis-cli -p $((base + 1)) set viaresp 42 >/dev/null
expect 200 '"value":"42"' -- $H/v1/kv/viaresp
expect 200 '"value":"42"' -- "$H/v1/kv/viaresp?consistency=linearizable"
expect 400 '"status":400' -- "$H/v1/kv/viaresp?consistency=bogus"
expect 200 '"deleted":1' -- -X DELETE $H/v1/kv/greet
expect 404 '"status":404' -- $H/v1/kv/greet
expect 404 '"status":404' -- $H/nothing/here
expect 405 '"status":405' -- -X POST $H/v1/kv/greet
expect 405 '"status":405' -- -X DELETE $H/v1/cluster
expect 200 '"role":"leader"' -- $H/v1/cluster
expect 200 'consist_raft_is_leader 1' -- $H/metrics
# keep-alive: two URLs, one connection
n=$(curl -s -m 10 -v $H/v1/kv/viaresp $H/v1/kv/viaresp 2>&1 | grep -c 'Re-using existing connection')
[ "$n" -ge 1 ] || fail "curl did not reuse the connection"
# raw: two pipelined requests in one write, then garbage, then an oversized head
out=$($PY - $((base + 3)) <<'PY'
import socket, sys
port = int(sys.argv[1])
def talk(b):
    # The server answers a bad request and closes; closing with unread input
    # makes the kernel send a reset, which may beat the answer to the client.
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
    out = b""
    try:
        s.sendall(b)
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except (ConnectionResetError, BrokenPipeError):
        out += b"<reset>"
    return out.decode("latin-1")
two = talk(b"GET /v1/kv/viaresp HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("pipelined", two.count("HTTP/1.1 200"))
print("garbage", talk(b"\x00\x01 nonsense\r\n\r\n").split("\r\n")[0])
print("oversized", talk(b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n").split("\r\n")[0])
PY
)
echo "$out" | grep -q "pipelined 2" || fail "pipelined: $out"
echo "$out" | grep -q "garbage HTTP/1.1 400" || fail "garbage: $out"
echo "$out" | grep -qE "oversized (HTTP/1.1 431|<reset>)" || fail "oversized: $out"
expect 200 '"status":"ok"' -- $H/healthz
[ $fails = 0 ] || { echo "$fails failure(s)"; tail -n 5 "$dir/log"; exit 1; }
echo "all ok"
