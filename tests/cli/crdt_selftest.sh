#!/usr/bin/env bash
# crdt_selftest.sh: `consist selftest crdt` passes a small number of seeds and
# ends with exactly "N passed, 0 failed"; a planted bug fails with exit 1 and
# names its seed; the divergence demo names a seed and the PN-Counter converging.
set -euo pipefail
: "${CONSIST:?CONSIST must name the consist binary}"
fail=0

out=$("$CONSIST" selftest crdt --seeds 25 --seed-start 1000)
last=$(tail -n 1 <<<"$out")
if [ "$last" != "25 passed, 0 failed" ]; then
    echo "crdt_selftest.sh: closing line was '$last'" >&2
    fail=1
fi

set +e
planted=$("$CONSIST" selftest crdt --seeds 5 --type distributed-counter)
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "^seed 1 FAILED type distributed-counter" <<<"$planted" ||
    ! grep -qE "^0 passed, 5 failed$|^[0-4] passed, [1-5] failed$" <<<"$planted"; then
    echo "crdt_selftest.sh: planted bug not reported (exit $rc):" >&2
    echo "$planted" >&2
    fail=1
fi

set +e
"$CONSIST" selftest crdt >/dev/null 2>&1
rc=$?
set -e
if [ "$rc" -ne 2 ]; then
    echo "crdt_selftest.sh: missing --seeds exited $rc, expected 2" >&2
    fail=1
fi

demo=$("$CONSIST" demo counter-divergence)
for want in "EU now reads 5, US reads 3" "EU reads 8, US reads 8" "the DistributedCounter diverges" \
    "under the same schedule, converges"; do
    if ! grep -qF -- "$want" <<<"$demo"; then
        echo "crdt_selftest.sh: demo lacks: $want" >&2
        fail=1
    fi
done
[ "$fail" -eq 0 ] && echo "crdt_selftest.sh: ok"
exit "$fail"
