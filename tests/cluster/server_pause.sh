#!/usr/bin/env bash
# server_pause.sh: SIGSTOP the leader of three, let the other two elect a new
# leader and take a write through it, SIGCONT the old leader and read at once
# from it: the read must never return the value from before the pause (it may
# fail with -TRYAGAIN/-NOQUORUM while the old leader learns it was deposed,
# then must return the new value). The old leader's reads go through ReadIndex,
# which needs a majority to confirm it still leads; the two others no longer do.
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT
base=$((25000 + ($$ % 200) * 20))
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
R() { local port=$1; shift; timeout 10 redis-cli -p "$port" "$@" 2>&1; }
for i in 1 2 3; do
    peers=()
    for j in 1 2 3; do [ "$j" != "$i" ] && peers+=(--peer "$j" "127.0.0.1:$((base + 5 + j))"); done
    "$BIN" --node-id "$i" --port $((base + i)) --peer-port $((base + 5 + i)) \
        --http-port $((base + 10 + i)) --dir "$dir/n$i" --election-timeout-ms 300 \
        --heartbeat-interval-ms 50 --request-timeout-ms 2000 "${peers[@]}" >>"$dir/n$i.log" 2>&1 &
    pids+=($!)
done
leader_of() { # leader_of PORT...: the port of a node that says it leads
    local p
    for p in "$@"; do R "$p" info | grep -q '^raft_role:leader' && { echo "$p"; return 0; }; done
    return 1
}
L=""
for ((t = 0; t < 100; t++)); do L=$(leader_of $((base + 1)) $((base + 2)) $((base + 3))) && break; sleep 0.1; done
[ -n "$L" ] || { fail "no leader"; exit 1; }
k=$((L - base))
others=()
for i in 1 2 3; do [ $i != $k ] && others+=($((base + i))); done
for ((t = 0; t < 50; t++)); do [ "$(R "$L" set x old)" = OK ] && break; sleep 0.1; done
[ "$(R "$L" get x)" = old ] || fail "x is not 'old' before the pause"

kill -STOP "${pids[$((k - 1))]}"
N=""
for ((t = 0; t < 100; t++)); do N=$(leader_of "${others[@]}") && break; sleep 0.1; done
[ -n "$N" ] || { fail "no new leader while the old one is paused"; exit 1; }
got=""
for ((t = 0; t < 50; t++)); do got=$(R "$N" set x new); [ "$got" = OK ] && break; sleep 0.1; done
[ "$got" = OK ] || fail "write through the new leader: $got"

# A read sent while the old leader is still paused waits in its socket and is
# the first thing it sees on waking, beside its stale belief that it leads.
timeout 10 redis-cli -p "$L" get x >"$dir/queued" 2>&1 &
qpid=$!
sleep 0.3
kill -CONT "${pids[$((k - 1))]}"
wait $qpid
got=$(cat "$dir/queued")
case "$got" in
    old) fail "stale read queued during the pause" ;;
    new|TRYAGAIN*|NOQUORUM*) ;;
    *) fail "unexpected answer to the queued read: $got" ;;
esac
saw_new=0
for ((t = 0; t < 50; t++)); do     # at most ~5 s of reads from the old leader
    got=$(R "$L" get x)
    case "$got" in
        old) fail "stale read from the resumed old leader"; break ;;
        new) saw_new=1; break ;;
        TRYAGAIN*|NOQUORUM*) sleep 0.1 ;;
        *) fail "unexpected answer from the old leader: $got"; break ;;
    esac
done
[ $saw_new = 1 ] || fail "the old leader never served the new value"
[ $fails = 0 ] || { echo "$fails failure(s)"; tail -n 5 "$dir"/*.log; exit 1; }
echo "all ok (old leader port $L, new leader port $N)"
