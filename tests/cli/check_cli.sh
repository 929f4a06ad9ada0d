#!/usr/bin/env bash
# check_cli.sh: `consist check` on real files: each exit code (0 valid,
# 1 invalid, 2 unknown within the budget, 3 bad input), the verdict on the
# first line, the error line naming file and line, --html, and the exam's
# question 11 under --consistency sequential with its cycle.
set -u
: "${CONSIST:?}" "${CS_DATA:?}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
P="$CS_DATA/histories/porcupine"

# expect CODE FIRST_LINE_PREFIX -- ARGS...
expect() {
    local code=$1 prefix=$2
    shift 3
    "$CONSIST" check "$@" >"$dir/out" 2>"$dir/err"
    local got=$?
    local first
    first=$(head -n 1 "$dir/out")
    if [ "$got" != "$code" ] || [ "${first#"$prefix"}" = "$first" ]; then
        echo "FAIL: consist check $* -> exit $got, first line '$first' (want $code, '$prefix')"
        sed 's/^/   /' "$dir/err" | head -5
        fails=$((fails + 1))
    else
        echo "ok   consist check $* -> $code"
    fi
}

expect 0 "valid" -- "$P/jepsen/etcd_002.log"
expect 1 "invalid" -- "$P/jepsen/etcd_000.log"
expect 0 "valid" -- "$P/kv/c10-ok.txt" --format porcupine-kv
expect 1 "invalid" -- "$P/kv/c10-bad.txt" --no-split
expect 1 "invalid" -- "$P/jepsen/etcd_001.log" --html "$dir/page.html"
grep -q '<svg' "$dir/page.html" || { echo "FAIL: --html wrote no svg"; fails=$((fails + 1)); }
grep -q '#d33' "$dir/page.html" || { echo "FAIL: --html marks no failing op"; fails=$((fails + 1)); }

# Unknown within the budget: 22 concurrent writes, then reads of 1 and then
# 2 with nothing in between; refuting it by search means trying ~2^22
# subsets. Process 22 writes 1 again, so values are not unique and only the
# search applies. With unique values (hard-unique) the zones test refutes it
# at once, whatever the budget, and says so on the first line.
gen="$dir/hard.jsonl"
uniq="$dir/hard-unique.jsonl"
: >"$gen"
: >"$uniq"
for p in $(seq 1 22); do
    v=$(((p - 1) % 21 + 1))
    echo "{\"process\":$p,\"type\":\"invoke\",\"f\":\"write\",\"value\":$v}" >>"$gen"
    echo "{\"process\":$p,\"type\":\"invoke\",\"f\":\"write\",\"value\":$p}" >>"$uniq"
done
for p in $(seq 1 22); do
    v=$(((p - 1) % 21 + 1))
    echo "{\"process\":$p,\"type\":\"ok\",\"f\":\"write\",\"value\":$v}" >>"$gen"
    echo "{\"process\":$p,\"type\":\"ok\",\"f\":\"write\",\"value\":$p}" >>"$uniq"
done
for v in 1 2; do
    for f in "$gen" "$uniq"; do
        echo '{"process":99,"type":"invoke","f":"read"}' >>"$f"
        echo "{\"process\":99,\"type\":\"ok\",\"f\":\"read\",\"value\":$v}" >>"$f"
    done
done
expect 2 "unknown" -- "$gen" --budget-ms 1
expect 1 "invalid" -- "$uniq" --budget-ms 1
grep -q "1 partition by zones" "$dir/out" || { echo "FAIL: zones not named"; fails=$((fails + 1)); }
grep -q "^zones: " "$dir/out" || { echo "FAIL: no zones explanation"; fails=$((fails + 1)); }

# Bad input: the error names the file and the line.
printf '{"process":1,"type":"invoke","f":"read"}\n{"process":1,"type":"ok","f":"read","value":}\n' >"$dir/bad.jsonl"
expect 3 "bad input" -- "$dir/bad.jsonl"
grep -q "bad.jsonl:2:" "$dir/err" || { echo "FAIL: error does not name bad.jsonl:2"; fails=$((fails + 1)); }
expect 3 "bad input" -- "$P/jepsen/etcd_000.log" --format jsonl
"$CONSIST" check "$dir/missing.jsonl" >/dev/null 2>&1
[ $? = 3 ] || { echo "FAIL: a missing file is not exit 3"; fails=$((fails + 1)); }

# The exam's question 11, both ways.
q11="$dir/q11.jsonl"
cat >"$q11" <<'Q'
{"process":1,"type":"invoke","f":"write","key":"x","value":1}
{"process":2,"type":"invoke","f":"write","key":"y","value":1}
{"process":1,"type":"ok","f":"write","key":"x","value":1}
{"process":2,"type":"ok","f":"write","key":"y","value":1}
{"process":1,"type":"invoke","f":"read","key":"y"}
{"process":2,"type":"invoke","f":"read","key":"x"}
{"process":1,"type":"ok","f":"read","key":"y","value":0}
{"process":2,"type":"ok","f":"read","key":"x","value":0}
Q
expect 1 "invalid" -- "$q11" --initial 0
expect 1 "invalid" -- "$q11" --initial 0 --consistency sequential
grep -q "from-read" "$dir/out" || { echo "FAIL: no cycle shown for q11"; fails=$((fails + 1)); }

# Session guarantees: monotonic reads broken, then kept.
printf '%s\n' '{"process":1,"type":"invoke","f":"read","key":"k","session":"s"}' \
    '{"process":1,"type":"ok","f":"read","key":"k","version":4}' \
    '{"process":1,"type":"invoke","f":"read","key":"k","session":"s"}' \
    '{"process":1,"type":"ok","f":"read","key":"k","version":3}' >"$dir/mr.jsonl"
expect 1 "invalid" -- "$dir/mr.jsonl" --consistency session
grep -q "monotonic reads" "$dir/out" || { echo "FAIL: guarantee not named"; fails=$((fails + 1)); }
sed -i 's/"version":3/"version":5/' "$dir/mr.jsonl"
expect 0 "valid" -- "$dir/mr.jsonl" --consistency session

echo "$fails failed"
[ "$fails" = 0 ]
