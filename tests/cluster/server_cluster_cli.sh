#!/usr/bin/env bash
# server_cluster_cli.sh: `consist cluster up|status|down` with real processes.
# up starts 3 nodes and prints how to connect once a leader is known; status
# shows every node and exits 0; a write on one node is read on another; down
# stops them and up exits 0; a second up is stopped by SIGINT (Ctrl-C) and
# leaves no consistd behind. Every wait is bounded.
set -u
: "${CONSIST:?}" "${CS_BIN:?}"
BIN=""
for c in "$CS_BIN/consistd" "$CS_BIN/bin/consistd"; do [ -x "$c" ] && BIN=$c && break; done
[ -n "$BIN" ] || { echo "FAIL: consistd not found under $CS_BIN"; exit 1; }
dir=$(mktemp -d)
up_pid=""
cleanup() {
    [ -n "$up_pid" ] && kill -INT "$up_pid" 2>/dev/null && sleep 1
    if [ -f "$dir/c/cluster.pids" ]; then
        while read -r _ pid _; do kill -9 "$pid" 2>/dev/null; done <"$dir/c/cluster.pids"
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
base=$((18000 + ($$ % 300) * 10))
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

wait_up() { # wait_up FILE: until up prints its banner there (at most ~30 s)
    local t
    for ((t = 0; t < 300; t++)); do
        grep -q "^consist cluster up:" "$1" 2>/dev/null && return 0
        kill -0 "$up_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

"$CONSIST" cluster up -n 3 --dir "$dir/c" --base-port $base --bin "$BIN" >"$dir/up.out" 2>&1 &
up_pid=$!
wait_up "$dir/up.out" || { fail "cluster up did not come up"; cat "$dir/up.out"; exit 1; }
grep -q "redis-cli -p $base" "$dir/up.out" || fail "no connect hint: $(cat "$dir/up.out")"
"$CONSIST" cluster status --dir "$dir/c" >"$dir/status.out" || fail "status exit $?"
[ "$(awk 'NR > 1 && ($4 == "leader" || $4 == "follower")' "$dir/status.out" | wc -l)" = 3 ] || fail "status: $(cat "$dir/status.out")"
[ "$(awk 'NR > 1 && $4 == "leader"' "$dir/status.out" | wc -l)" = 1 ] || fail "not one leader: $(cat "$dir/status.out")"
got=$(timeout 10 redis-cli -p $((base + 1)) set hello world)
[ "$got" = OK ] || fail "set on node 2: $got"
got=$(timeout 10 redis-cli -p $((base + 2)) get hello)
[ "$got" = world ] || fail "get on node 3: $got"
"$CONSIST" cluster down --dir "$dir/c" >/dev/null || fail "down exit $?"
for ((t = 0; t < 100; t++)); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$up_pid" 2>/dev/null; then fail "up still running after down"; else
    wait "$up_pid"; rc=$?; [ $rc = 0 ] || fail "up exit $rc after down"; fi
"$CONSIST" cluster status --dir "$dir/c" >/dev/null 2>&1 && fail "status ok after down"

# Ctrl-C: the data is still there on the next up, and no node outlives it.
# (a new output file: the shell truncates a reused one only once the child runs)
"$CONSIST" cluster up -n 3 --dir "$dir/c" --base-port $base --bin "$BIN" >"$dir/up2.out" 2>&1 &
up_pid=$!
wait_up "$dir/up2.out" || { fail "second up did not come up"; cat "$dir/up2.out"; exit 1; }
got=$(timeout 10 redis-cli -p $base get hello 2>&1)
[ "$got" = world ] || fail "after restart: get hello -> $got"
pids=$(awk '{print $2}' "$dir/c/cluster.pids")
kill -INT "$up_pid"
for ((t = 0; t < 100; t++)); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$up_pid" 2>/dev/null && fail "up ignored SIGINT"
up_pid=""
for p in $pids; do kill -0 "$p" 2>/dev/null && fail "node pid $p outlived up"; done

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
