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
# shellcheck source=bench/common.sh
source "$top/bench/common.sh"
cpu_ms() {  # PID -> user+system CPU time consumed so far, in milliseconds
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"
}
measure() {  # URL PID -> sets $rps and $cpu_us (server CPU microseconds per request)
    local before after out requests
    before=$(cpu_ms "$2")
    out=$(wrk -t1 -c"$connections" -d"${duration}s" -s "$top/bench/post.lua" "$1")
    after=$(cpu_ms "$2")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu_us=$(python3 -c "print(f'{($after - $before) * 1000 / $requests:.1f}')")
}

bare_port=$(free_port)
"$build/bench/herald-bench-bare-beast" "$bare_port" &
bare_pid=$!
pids+=("$bare_pid")
wait_http "http://127.0.0.1:$bare_port/"

start_herald() {  # NAME EXTRA_ARGS... -> sets $port and $pid (no subshell: pids+= is kept)
    local name=$1; shift
    port=$(free_port)
    "$build/src/herald" serve --listen "127.0.0.1:$port" --io-threads 1 \
        --store "sqlite:$work/$name.db" --transport "maildir:$work/$name-mail" \
        --log-level warn "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz"
}

measure "http://127.0.0.1:$bare_port/v1/notifications" "$bare_pid"
bare=$rps bare_cpu=$cpu_us
start_herald intake --set delivery.paused=true
measure "http://127.0.0.1:$port/v1/notifications" "$pid"
intake=$rps intake_cpu=$cpu_us
start_herald full
measure "http://127.0.0.1:$port/v1/notifications" "$pid"
full=$rps full_cpu=$cpu_us
stored=$(sqlite3 "$work/intake.db" "select count(*) from notifications")
delivered=$(ls "$work/full-mail/new" | wc -l)

ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
echo "intake benchmark: ${duration}s per run, ${connections} connections, wrk -t1, $(nproc) cores"
echo "  (rate ratio: herald/bare requests per second; cost ratio: bare/herald CPU per request)"
printf '  bare beast, fixed 202:                %8.0f req/s  %6s us CPU/req\n' "$bare" "$bare_cpu"
printf '  herald, durable 202, delivery paused: %8.0f req/s  %6s us CPU/req' "$intake" "$intake_cpu"
printf '  rate ratio %s, cost ratio %s (goal >= 0.5; %s stored)\n' \
    "$(ratio "$intake" "$bare")" "$(ratio "$bare_cpu" "$intake_cpu")" "$stored"
printf '  herald, durable 202, maildir sending: %8.0f req/s  %6s us CPU/req' "$full" "$full_cpu"
printf '  rate ratio %s, cost ratio %s (%s delivered meanwhile)\n' \
    "$(ratio "$full" "$bare")" "$(ratio "$bare_cpu" "$full_cpu")" "$delivered"
