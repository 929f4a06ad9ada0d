# common.bash: what every tests/cluster/*.sh starts with, sourced (not a test
# itself: ctest runs *.sh). Sets BIN to the consistd under test (from CS_BIN,
# which ctest sets) and PY to Debian's python3, where python3-redis lives.
# need_python_redis fails the test when that module is missing.
set -u
: "${CS_BIN:?CS_BIN: the folder of the consistd under test (ctest sets it)}"
BIN=""
for c in "$CS_BIN/consistd" "$CS_BIN/bin/consistd"; do [ -x "$c" ] && BIN=$c && break; done
[ -n "$BIN" ] || { echo "FAIL: consistd not found under $CS_BIN"; exit 1; }
PY=/usr/bin/python3 # the pyenv python3 first on PATH lacks the Debian modules
need_python_redis() {
    $PY -c 'import redis' 2>/dev/null || { echo "FAIL: python3-redis missing for $PY"; exit 1; }
}
