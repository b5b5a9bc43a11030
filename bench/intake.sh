#!/usr/bin/env bash
# Intake benchmark: herald (POST /v1/notifications, durable SQLite commit, one I/O thread,
# maildir delivery running alongside) against a bare Beast server answering a fixed 202, under
# the same wrk load in the same run. Prints both rates and their ratio (goal: at least 0.5).
#   bench/intake.sh [DURATION_SECONDS] [CONNECTIONS]
# Loopback only; every process it starts is stopped by its pid when it ends.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10}
connections=${2:-64}
build=${HERALD_BUILD_DIR:-$top/build}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "bench: $1 did not come up" >&2
    return 1
}
rate() {  # URL -> requests per second
    wrk -t1 -c"$connections" -d"${duration}s" -s "$top/bench/post.lua" "$1" \
        | awk '/Requests\/sec/ {print $2}'
}

bare_port=$(free_port)
"$build/bench/herald-bench-bare-beast" "$bare_port" &
pids+=($!)
wait_http "http://127.0.0.1:$bare_port/"

herald_port=$(free_port)
"$build/src/herald" serve --listen "127.0.0.1:$herald_port" --io-threads 1 \
    --store "sqlite:$work/herald.db" --transport "maildir:$work/mail" --log-level warn &
pids+=($!)
wait_http "http://127.0.0.1:$herald_port/healthz"

bare=$(rate "http://127.0.0.1:$bare_port/v1/notifications")
herald=$(rate "http://127.0.0.1:$herald_port/v1/notifications")
stored=$(sqlite3 "$work/herald.db" "select count(*) from notifications" 2>/dev/null || echo "?")
ratio=$(python3 -c "print(f'{$herald / $bare:.3f}')")
echo "intake benchmark: ${duration}s per side, ${connections} connections, wrk -t1"
printf '  bare beast (fixed 202): %10.0f req/s\n' "$bare"
printf '  herald (durable 202):   %10.0f req/s  (%s notifications stored)\n' "$herald" "$stored"
echo "  ratio herald/bare: $ratio (goal >= 0.5)"
