#!/usr/bin/env bash
# server_restart.sh: kill -9 a node while a snapshot child is running, and
# start it again at once, five times. Each restart must come up, lead, and
# hold every acknowledged write (a 12 MB map, so each snapshot child runs for
# tens of ms, and a snapshot every 16 entries under a write load, so one is
# almost always running): the staged file of the killed child is dropped,
# the last committed snapshot and the log after it are whole.
# Written after a clean-clone run saw "no leader after restart" once in
# server_basic.sh; the suspected cause, the child holding the parent's
# listening sockets while it dies, is now closed off (the child keeps no
# descriptor but its status pipe), but this test passes with and without
# that change: the race did not reproduce here.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
command -v redis-benchmark >/dev/null || { echo "FAIL: redis-benchmark missing"; exit 1; }
dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
base=$((8000 + ($$ % 100) * 20)) # below the ephemeral range (32768+)
P=$((base + 1))
start() {
    "$BIN" --port $P --peer-port $((base + 2)) --http-port 0 --dir "$dir/n" \
        --snapshot-every 16 --election-timeout-ms 100 --heartbeat-interval-ms 20 >>"$dir/n.log" 2>&1 &
    pid=$!
}
up() { # until the node answers as leader, at most ~10 s
    for _ in $(seq 100); do
        timeout 2 redis-cli -p $P info 2>/dev/null | grep -q '^raft_role:leader' && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
start
up || { echo "FAIL: the node did not start"; tail -5 "$dir/n.log"; exit 1; }
timeout 60 redis-benchmark -p $P -t set -n 12000 -r 12000 -d 1000 -c 20 -P 16 -q >/dev/null 2>&1
timeout 10 redis-cli -p $P set marker 0 >/dev/null
for round in 1 2 3 4 5; do
    timeout 10 redis-benchmark -p $P -t set -n 4000 -r 12000 -d 1000 -c 20 -q >/dev/null 2>&1 &
    load=$!
    sleep 0.3
    timeout 10 redis-cli -p $P set marker $round >/dev/null
    kill -9 "$pid"; wait "$pid" 2>/dev/null
    start
    if ! up; then
        echo "FAIL: round $round: the restarted node is not up"
        tail -5 "$dir/n.log"
        exit 1
    fi
    wait "$load" 2>/dev/null
    got=$(timeout 10 redis-cli -p $P get marker)
    [ "$got" = "$round" ] || { echo "FAIL: round $round: marker is '$got'"; exit 1; }
    echo "ok   round $round: kill -9 with a snapshot child running, restarted at once, marker $got"
done
grep -q "cannot listen" "$dir/n.log" && { echo "FAIL: a restart could not bind"; exit 1; }
echo "all ok"
