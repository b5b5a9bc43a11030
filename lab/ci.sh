#!/usr/bin/env bash
# The incident lab, CI-sized (a few minutes): builds herald, herald-mockmail and herald-storm, then
# runs lab/incident.py --size ci against the unpatched peer, the patched peer, herald (202) and
# herald (Prefer: wait), and the overload scenario; prints the table. Results, charts and raw
# data go to OUT_DIR (default build/lab/ci; docs/lab/ci holds the checked-in run).
#   lab/ci.sh [OUT_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" herald herald-mockmail herald-storm >/dev/null
exec /usr/bin/python3 "$top/lab/incident.py" --size ci ${1:+--out "$1"}
