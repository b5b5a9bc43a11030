#!/usr/bin/env bash
# The crash test at length: builds herald, herald-mockmail and the crash suite, then runs
# CrashLoop (tests/integration/crash_test.cpp) for ROUNDS rounds (default 50). Each round kills
# herald with SIGKILL at a random moment under steady POST load and restarts it on the same
# store; at the end every notification answered 202 must have reached the mock provider.
# Prints the counts (rounds, accepted, delivered, distinct, raw_calls, raw_duplicates) and exits
# non-zero when the test fails. HERALD_CRASH_SEED=N replays the random kill delays of a run.
#   scripts/crash-test.sh [ROUNDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${HERALD_BUILD_DIR:-$top/build}
"$top/scripts/build.sh" herald herald-mockmail herald_crash_test
output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
HERALD_CRASH_ROUNDS=${1:-50} "$build/tests/integration/herald_crash_test" \
    --gtest_filter='CrashLoop.*' 2>&1 | tee "$output" || status=$?
echo
grep -E '^crash summary:' "$output" || echo "crash-test: no summary line (see the output above)"
exit "$status"
