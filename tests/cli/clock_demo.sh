#!/usr/bin/env bash
# clock_demo.sh: `consist demo clocks` prints the exam scenario correctly.
# Checks every event's vector clock and Lamport time, the three relations in
# words, and the Lamport-time caveat, so the demo cannot silently rot.
set -euo pipefail
: "${CONSIST:?CONSIST must name the consist binary}"

out=$("$CONSIST" demo clocks)
fail=0
expect() {
    if ! grep -qF -- "$1" <<<"$out"; then
        echo "clock_demo.sh: missing line: $1" >&2
        fail=1
    fi
}
expect "A  send M1      [A:1 B:0 C:0 D:0]   1"
expect "B  receive M1   [A:1 B:1 C:0 D:0]   2"
expect "B  send M2      [A:1 B:2 C:0 D:0]   3"
expect "C  receive M1   [A:1 B:0 C:1 D:0]   2"
expect "D  event D1     [A:0 B:0 C:0 D:1]   1"
expect "C  receive M2   [A:1 B:2 C:2 D:0]   4"
expect "M1 happens-before M2"
expect "M1 concurrent-with D1"
expect "M2 concurrent-with D1"
expect "L(D1)=1 < L(M2)=3: suggests D1 before M2, yet M2 concurrent-with D1"
expect "it cannot detect concurrency"

# An extra argument is a usage error (exit 2), not a silent success.
set +e
"$CONSIST" demo clocks extra >/dev/null 2>&1
rc=$?
set -e
if [ "$rc" -ne 2 ]; then
    echo "clock_demo.sh: 'demo clocks extra' exited $rc, expected 2" >&2
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    echo "--- output was:" >&2
    echo "$out" >&2
    exit 1
fi
echo "clock_demo.sh: ok"
