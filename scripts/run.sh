#!/usr/bin/env bash
# The first command: installs what herald needs, builds it, and runs `herald serve` in the
# foreground on 127.0.0.1:8080 with the embedded defaults (SQLite in ./var/herald.db, maildir
# delivery into ./var/mail). Extra arguments go to `herald serve`. Stop it with Ctrl-C.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-deps.sh" --no-peers
"$top/scripts/build.sh" herald
cd "$top"
exec "$top/build/src/herald" serve "$@"
