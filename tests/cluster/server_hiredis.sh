#!/usr/bin/env bash
# server_hiredis.sh: a C client built on hiredis (tests/tools/hiredis_client.c)
# talks to consistd: its scripted conversation (binary values at the value
# limit and one past, counters, MSET/MGET at 64 keys and 65, CAS, pipelined
# MULTI/EXEC, 1000 pipelined SETs then GETs, HELLO 2 and 3, error shapes) must
# pass on a one-node cluster, on a follower of a three-node cluster, where
# every command is forwarded to the leader, and on all three nodes of that
# cluster at once. The program is shown to fail: a
# node started with --proto-max-bulk-len 65535 refuses the 65536-byte value
# the script expects to be stored, and the program must say so and exit 1.
set -u
: "${CS_BIN:?}" "${CS_TOOLS:?}"
BIN=""
for c in "$CS_BIN/consistd" "$CS_BIN/bin/consistd"; do [ -x "$c" ] && BIN=$c && break; done
[ -n "$BIN" ] || { echo "FAIL: consistd not found under $CS_BIN"; exit 1; }
CLIENT="$CS_TOOLS/hiredis_client"
[ -x "$CLIENT" ] || { echo "FAIL: $CLIENT not built (needs libhiredis-dev, see scripts/deps)"; exit 1; }
command -v redis-cli >/dev/null || { echo "FAIL: redis-cli missing"; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() {
    { # quietly: no "Killed" job notices
        for p in "${pids[@]}"; do kill -9 "$p"; done
        wait
    } 2>/dev/null
    if [ -n "${CS_KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# Below the ephemeral range (32768..) and apart from the other cluster tests.
base=$((12000 + ($$ % 200) * 20))
fails=0

# node NAME ID RESP_PORT PEER_PORT [flags...]: start one consistd. The
# election timeout is long enough that a busy machine (two cores, sanitizers)
# does not move the leader while the program runs on its follower.
node() {
    local name=$1 id=$2 port=$3 peer_port=$4
    shift 4
    "$BIN" --node-id "$id" --port "$port" --peer-port "$peer_port" --http-port 0 \
        --dir "$dir/$name" --election-timeout-ms 1000 --heartbeat-interval-ms 100 \
        "$@" >>"$dir/$name.log" 2>&1 &
    pids+=($!)
}

# info PORT FIELD: one field of INFO, empty if the node does not answer.
info() { redis-cli -p "$1" info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# wait_role PORT ROLE: until the node is ROLE and knows a leader (10 s).
wait_role() {
    for _ in $(seq 1 100); do
        if [ "$(info "$1" raft_role)" = "$2" ] && [ "$(info "$1" raft_leader)" != "0" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "FAIL: node on port $1 is not a $2 that knows a leader within 10 s"
    return 1
}

# run_client WHAT PORT: the program must pass against this node.
run_client() {
    if "$CLIENT" "$2" >"$dir/client.out" 2>&1; then
        echo "ok   $1: $(cat "$dir/client.out")"
    else
        echo "FAIL: $1 (port $2):"
        sed 's/^/   /' "$dir/client.out"
        fails=$((fails + 1))
    fi
}

# One node, and one whose bulk limit is a byte short of the value limit.
node single 1 $((base + 1)) $((base + 6))
node short 1 $((base + 2)) $((base + 7)) --proto-max-bulk-len 65535
# Three nodes.
for i in 1 2 3; do
    peers=()
    for j in 1 2 3; do [ "$j" != "$i" ] && peers+=(--peer "$j" "127.0.0.1:$((base + 15 + j))"); done
    node "c$i" "$i" $((base + 10 + i)) $((base + 15 + i)) "${peers[@]}"
done

wait_role $((base + 1)) leader || exit 1
run_client "one node" $((base + 1))

wait_role $((base + 2)) leader || exit 1
if "$CLIENT" $((base + 2)) >"$dir/short.out" 2>&1; then
    echo "FAIL: the program passed against a node that refuses a 65536-byte value"
    fails=$((fails + 1))
elif ! grep -q "step 'value at the limit'" "$dir/short.out"; then
    echo "FAIL: the program failed, but not at the value limit:"
    sed 's/^/   /' "$dir/short.out"
    fails=$((fails + 1))
else
    echo "ok   planted: --proto-max-bulk-len 65535 fails the program at the value limit"
fi

follower=""
for _ in $(seq 1 100); do
    for i in 1 2 3; do
        if [ "$(info $((base + 10 + i)) raft_role)" = "leader" ]; then
            follower=$((base + 10 + i % 3 + 1)) # the next node: a follower
        fi
    done
    [ -n "$follower" ] && break
    sleep 0.1
done
[ -n "$follower" ] || { echo "FAIL: three nodes elect no leader within 10 s"; exit 1; }
wait_role "$follower" follower || exit 1
run_client "a follower of three (forwarded)" "$follower"
# Still a follower: every command of the run went through forwarding.
[ "$(info "$follower" raft_role)" = follower ] ||
    { echo "FAIL: port $follower stopped being a follower during the run"; fails=$((fails + 1)); }

# One program on each of the three nodes at once: pipelines from a client of
# the leader and forwarded ones from its followers interleave there.
cpids=()
for i in 1 2 3; do
    "$CLIENT" $((base + 10 + i)) "hc:par$i:" >"$dir/par$i.out" 2>&1 &
    cpids+=($!)
done
for i in 1 2 3; do
    if wait "${cpids[$((i - 1))]}"; then
        echo "ok   three at once, node $i: $(cat "$dir/par$i.out")"
    else
        echo "FAIL: three at once, node $i:"
        sed 's/^/   /' "$dir/par$i.out"
        fails=$((fails + 1))
    fi
done

if [ $fails -ne 0 ]; then
    tail -n 5 "$dir"/*.log
    echo "FAIL: $fails"
    exit 1
fi
echo "all ok"
