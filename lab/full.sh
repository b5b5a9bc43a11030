#!/usr/bin/env bash
# The incident lab at the incident's size: provider at 500 ms, 20 new notifications/s for 60 s,
# 10 s per attempt, retries for up to 120 s per notification; the same systems and overload
# scenario as lab/ci.sh. About 20 minutes. Results go to OUT_DIR (default build/lab/full).
#   lab/full.sh [OUT_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" herald herald-mockmail herald-storm >/dev/null
exec /usr/bin/python3 "$top/lab/incident.py" --size full ${1:+--out "$1"}
