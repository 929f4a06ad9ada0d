#!/usr/bin/env bash
# server_peers.sh: the peer handshake refuses a node of another cluster.
# Two nodes name each other as peers but carry different cluster ids: each
# refuses the other's hello, neither counts a connected peer, and with two
# voters and no link no leader can be elected. Then the same two nodes with
# one cluster id connect and elect a leader. Every wait is bounded.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
base=$((19000 + ($$ % 100) * 20))
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
start() { # start ID CLUSTER DIR
    local other=$((3 - $1))
    "$BIN" --node-id "$1" --cluster-id "$2" --port $((base + $1)) --peer-port $((base + 5 + $1)) \
        --http-port $((base + 10 + $1)) \
        --dir "$dir/$3-$1" --election-timeout-ms 200 --heartbeat-interval-ms 50 \
        --peer $other 127.0.0.1:$((base + 5 + other)) >>"$dir/$3-$1.log" 2>&1 &
    pids+=($!)
}
field() { timeout 5 redis-cli -p "$1" info | tr -d '\r' | sed -n "s/^$2://p"; }

start 1 alpha x
start 2 beta x
sleep 2
for i in 1 2; do
    [ "$(field $((base + i)) connected_peers)" = 0 ] || fail "node $i connected across clusters"
    [ "$(field $((base + i)) raft_leader)" = 0 ] || fail "node $i found a leader across clusters"
    grep -q "peer refused" "$dir/x-$i.log" || fail "node $i log does not say it refused the peer"
done
for p in "${pids[@]}"; do kill -9 "$p"; wait "$p" 2>/dev/null; done
pids=()

start 1 alpha y
start 2 alpha y
ok=0
for ((t = 0; t < 100; t++)); do
    l1=$(field $((base + 1)) raft_leader); l2=$(field $((base + 2)) raft_leader)
    if [ -n "$l1" ] && [ "$l1" != 0 ] && [ "$l1" = "$l2" ]; then ok=1; break; fi
    sleep 0.1
done
[ $ok = 1 ] || fail "same cluster: no common leader"
[ "$(field $((base + 1)) connected_peers)" = 1 ] || fail "same cluster: not connected"

[ $fails = 0 ] || { echo "$fails failure(s)"; tail -n 5 "$dir"/*.log; exit 1; }
echo "all ok"
