#!/usr/bin/env bash
# server_history.sh: a failover whose recorded history `consist check` must
# find linearizable. Three consistd nodes on loopback; python3-redis clients
# (5 threads, each a process of the history, at most 20000 ops and 10 s) do
# GET / SET / CAS on five shared keys with unique values, plus SETs of fresh
# keys, against random live nodes, while the leader is killed with -9 and
# restarted (clients go to it as soon as it answers PING), the new leader
# too, then the leader is stopped (SIGSTOP) with clients still sending to it
# until another node leads, and continued (SIGCONT), and last a follower is
# stopped for a second and read from as soon as it continues. Required:
#   - every acknowledged fresh-key SET is read back from every node, and the
#     restarted nodes' state machines converge with the others';
#   - `consist check --model cas-register` says valid (exit 0) on the history
#     (which ends with those final reads);
#   - the same history with one read planted wrong (a value never written,
#     one certainly overwritten before the read began, or a final read that
#     misses an acknowledged write) says invalid (exit 1): the check can fail.
# CS_SEED picks the op mix (default 1; timing varies run to run); CS_KEEP=1 keeps
# the folder with the history and the node logs.
set -u
: "${CS_BIN:?}" "${CONSIST:?}"
BIN=""
for c in "$CS_BIN/consistd" "$CS_BIN/bin/consistd"; do [ -x "$c" ] && BIN=$c && break; done
[ -n "$BIN" ] || { echo "FAIL: consistd not found under $CS_BIN"; exit 1; }
PY=/usr/bin/python3
$PY -c 'import redis' 2>/dev/null || { echo "FAIL: python3-redis missing for $PY"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
tool="$here/../tools/history_client.py"
dir=$(mktemp -d)
cleanup() {
    # The helper kills its nodes; this is for a helper that died first.
    if [ -f "$dir/pids" ]; then
        read -r -a left <"$dir/pids"
        for p in "${left[@]}"; do kill -9 "$p" 2>/dev/null; done
    fi
    if [ -n "${CS_KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# Below the ephemeral range (32768..) and apart from the other cluster tests.
base=$((29000 + ($$ % 180) * 20))
seed=${CS_SEED:-1}
h="$dir/history.jsonl"
fails=0

if ! $PY "$tool" run --consistd "$BIN" --dir "$dir" --base "$base" --out "$h" --seed "$seed" \
    --threads 5 --ops 20000 --seconds 10; then
    echo "FAIL: the run (seed $seed)"
    tail -n 5 "$dir"/n*.log
    exit 1
fi

# check FILE WANT_EXIT WANT_VERDICT: consist check's exit and first line.
check() {
    local file=$1 want=$2 verdict=$3 got first
    "$CONSIST" check "$file" --model cas-register --budget-ms 60000 >"$dir/out" 2>&1
    got=$?
    first=$(head -n 1 "$dir/out")
    if [ "$got" != "$want" ] || [ "${first%%:*}" != "$verdict" ]; then
        echo "FAIL: consist check $(basename "$file") -> exit $got, '$first' (want $want, $verdict; seed $seed)"
        sed -n '2,12p' "$dir/out"
        fails=$((fails + 1))
    else
        echo "ok   $(basename "$file"): $first"
    fi
}
check "$h" 0 valid

for mode in unwritten stale lost; do
    if $PY "$tool" plant --in "$h" --out "$dir/planted-$mode.jsonl" --mode $mode --seed "$seed"; then
        check "$dir/planted-$mode.jsonl" 1 invalid
    else
        fails=$((fails + 1))
    fi
done

if [ $fails -ne 0 ]; then
    CS_KEEP=1
    echo "FAIL: $fails checks (seed $seed)"
    exit 1
fi
echo "all ok"
