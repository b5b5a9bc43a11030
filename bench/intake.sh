#!/usr/bin/env bash
# Intake benchmark: herald (POST /v1/notifications, durable SQLite commit, one I/O thread)
# against a bare Beast server answering a fixed 202, under the same wrk load in the same run.
# herald runs twice: with delivery paused (intake alone) and with maildir delivery running
# alongside on the same two cores. Prints the rates and the ratios (goal: at least 0.5).
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

start_herald() {  # NAME EXTRA_ARGS... -> sets $port (not a subshell, so pids+= is kept)
    local name=$1; shift
    port=$(free_port)
    "$build/src/herald" serve --listen "127.0.0.1:$port" --io-threads 1 \
        --store "sqlite:$work/$name.db" --transport "maildir:$work/$name-mail" \
        --log-level warn "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_http "http://127.0.0.1:$port/healthz"
}

bare=$(rate "http://127.0.0.1:$bare_port/v1/notifications")
start_herald intake --set delivery.paused=true
intake=$(rate "http://127.0.0.1:$port/v1/notifications")
start_herald full
full=$(rate "http://127.0.0.1:$port/v1/notifications")
stored=$(sqlite3 "$work/intake.db" "select count(*) from notifications")
delivered=$(ls "$work/full-mail/new" | wc -l)

ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
echo "intake benchmark: ${duration}s per run, ${connections} connections, wrk -t1, $(nproc) cores"
printf '  bare beast, fixed 202:                %8.0f req/s\n' "$bare"
printf '  herald, durable 202, delivery paused: %8.0f req/s  ratio %s (goal >= 0.5; %s stored)\n' \
    "$intake" "$(ratio "$intake" "$bare")" "$stored"
printf '  herald, durable 202, maildir sending: %8.0f req/s  ratio %s (%s delivered meanwhile)\n' \
    "$full" "$(ratio "$full" "$bare")" "$delivered"
