#!/usr/bin/env bash
# herald against its peers (bare Beast, the patched reference peer, the provider alone): intake,
# Prefer: wait end to end, added latency over a 500 ms provider, memory with 10 000 waiters.
# Builds what it needs, then runs bench/peers.py, which prints every figure and ratio.
#   bench/peers.sh [--seconds N] [--connections N] [--waiters N] [--only intake,wait,added,waiters]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" herald herald-mockmail herald-storm herald-bench-bare-beast >/dev/null
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$top/bench/peers.py" "$@"
