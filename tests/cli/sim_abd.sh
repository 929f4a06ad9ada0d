#!/usr/bin/env bash
# sim_abd.sh: `consist sim abd` end to end. Correct ABD passes its seeds; each
# planted bug is caught with a printed replay command; replaying a failing
# seed writes the same history byte for byte; and `consist check` gives that
# history the same verdict the simulator did.
set -euo pipefail
: "${CONSIST:?CONSIST must name the consist binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Correct ABD: all seeds pass, exit 0, summary last.
out=$("$CONSIST" sim abd --seeds 200 --seed-start 1000 2>/dev/null) || fail "correct ABD exited $?"
[ "$(tail -n1 <<<"$out")" = "200 passed, 0 failed" ] || fail "summary: $(tail -n1 <<<"$out")"

"$CONSIST" --help 2>/dev/null | grep -q "^  check " || fail "no consist check command"

for bug in no-writeback async-backup; do
    set +e
    out=$("$CONSIST" sim abd --seeds 300 --bug "$bug" 2>/dev/null)
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$bug: exit $rc, want 1"
    last=$(tail -n1 <<<"$out")
    [[ "$last" =~ ^[0-9]+\ passed,\ [1-9][0-9]*\ failed$ ]] || fail "$bug: summary '$last'"
    replay=$(grep -m1 '^  replay: consist sim abd --seed ' <<<"$out") || fail "$bug: no replay line"
    seed=$(sed -E 's/.*--seed ([0-9]+).*/\1/' <<<"$replay")
    # The replay of one seed: same verdict line, same history bytes, twice.
    set +e
    a=$("$CONSIST" sim abd --seed "$seed" --bug "$bug" --history "$tmp/a.jsonl" 2>/dev/null)
    rc_a=$?
    b=$("$CONSIST" sim abd --seed "$seed" --bug "$bug" --history "$tmp/b.jsonl" 2>/dev/null)
    set -e
    [ "$rc_a" = 1 ] || fail "$bug seed $seed: replay exit $rc_a"
    grep -q "^seed $seed: invalid" <<<"$a" || fail "$bug seed $seed: replay said '$a'"
    [ "$a" = "$b" ] || fail "$bug seed $seed: two replays printed differently"
    cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" || fail "$bug seed $seed: histories differ"
    [ -s "$tmp/a.jsonl" ] || fail "$bug seed $seed: empty history"
    set +e
    verdict=$("$CONSIST" check "$tmp/a.jsonl" 2>&1 | head -n1)
    "$CONSIST" check "$tmp/a.jsonl" >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "consist check on $bug seed $seed: exit $rc, want 1 (invalid)"
    [[ "$verdict" == invalid* ]] || fail "consist check on $bug seed $seed said '$verdict'"
done

# A passing seed's history is judged valid by `consist check` too.
"$CONSIST" sim abd --seed 5 --history "$tmp/ok.jsonl" >/dev/null 2>&1 || fail "seed 5 failed"
"$CONSIST" check "$tmp/ok.jsonl" >/dev/null 2>&1 || fail "consist check on a valid history: exit $?"

# Usage errors exit 2.
set +e
"$CONSIST" sim abd --bug nonsense >/dev/null 2>&1; rc1=$?
"$CONSIST" sim abd --seeds 3 --history "$tmp/x" >/dev/null 2>&1; rc2=$?
"$CONSIST" sim abd --nodes 17 >/dev/null 2>&1; rc3=$?
set -e
[ "$rc1" = 2 ] && [ "$rc2" = 2 ] && [ "$rc3" = 2 ] || fail "usage exits $rc1 $rc2 $rc3, want 2"
echo "ok sim abd"
