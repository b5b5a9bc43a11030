#!/usr/bin/env bash
# The second command: installs what herald and its test peers need, builds everything, and runs
# every test with ctest (unit tests, then integration tests against the real binary, maildev,
# herald-mockmail and a maildir). Prints ctest's summary; exits non-zero when a test fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-deps.sh"
"$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure --timeout 600 -j "${HERALD_TEST_JOBS:-2}"
