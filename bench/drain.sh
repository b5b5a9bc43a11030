#!/usr/bin/env bash
# Drain benchmark: COUNT notifications queued while delivery is paused, then drained through the
# http transport to herald-mockmail, which accepts RATE sends a second (bursts of PROVIDER_BURST)
# and answers 429 with Retry-After above that. herald is configured with the provider's rate
# (delivery.rate_per_s = RATE) and a smaller burst (delivery.burst = HERALD_BURST), as an
# operator would set it. Prints the achieved rate of accepted sends over RATE (goal: at least
# 0.95) and the number of 429s the provider gave (goal: near zero).
#   bench/drain.sh [COUNT] [RATE] [PROVIDER_BURST] [HERALD_BURST]
# HERALD_DRAIN_RATE=0 runs herald with no rate configured, learning one from the 429s.
# Loopback only; every process it starts is stopped by its pid when it ends.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-10000}
rate=${2:-200}
provider_burst=${3:-20}
herald_burst=${4:-10}
herald_rate=${HERALD_DRAIN_RATE:-$rate}  # 0: no rate configured (herald learns one)
build=${HERALD_BUILD_DIR:-$top/build}
# shellcheck source=bench/common.sh
source "$top/bench/common.sh"

mock_port=$(free_port)
"$build/tools/mockmail/herald-mockmail" --listen "127.0.0.1:$mock_port" \
    --rate-limit "$rate" --rate-burst "$provider_burst" >"$work/mock.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$mock_port/stats"

port=$(free_port)
start_herald() {  # PAUSED -> sets $herald_pid
    "$build/src/herald" serve --listen "127.0.0.1:$port" \
        --store "sqlite:$work/herald.db" --transport "http://127.0.0.1:$mock_port/v1/send" \
        --log-level warn --set "delivery.paused=$1" --set "delivery.rate_per_s=$herald_rate" \
        --set "delivery.burst=$herald_burst" >>"$work/herald.log" 2>&1 &
    herald_pid=$!
    pids+=("$herald_pid")
    wait_http "http://127.0.0.1:$port/healthz"
}

start_herald true
python3 - "$port" "$count" <<'EOF'
import http.client, json, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
body = json.dumps({"from": "bench@example.com", "to": ["someone@example.com"],
                   "subject": "drain", "text": "queued while the provider is away"})
for i in range(count):
    conn.request("POST", "/v1/notifications", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 202:
        sys.exit(f"bench: POST {i} answered {response.status}")
EOF
kill "$herald_pid"
wait "$herald_pid" 2>/dev/null || true

started=$(date +%s.%N)
start_herald false
# Bounded: the drain should take count/rate seconds; give it four times that and a minute.
limit=$(python3 -c "print(int($count / $rate * 4 + 60))")
while :; do
    accepted=$(curl -s "http://127.0.0.1:$mock_port/stats" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["answers"].get("200", 0))')
    [ "$accepted" -ge "$count" ] && break
    if python3 -c "import sys,time; sys.exit(0 if time.time() - $started > $limit else 1)"; then
        echo "bench: only $accepted of $count delivered within ${limit}s" >&2
        break
    fi
    sleep 0.5
done

curl -s "http://127.0.0.1:$mock_port/calls" | python3 -c "
import json, sys
calls = json.load(sys.stdin)
ok = sorted(c['received_at_ms'] for c in calls if c['answer'] == 200)
throttled = sum(1 for c in calls if c['answer'] == 429)
keys = [c['idempotency_key'] for c in calls if c['answer'] == 200]
span = (ok[-1] - ok[0]) / 1000 if len(ok) > 1 else float('nan')
achieved = (len(ok) - 1) / span if len(ok) > 1 else 0
print(f'drain benchmark: {len(ok)} of $count queued notifications, provider limit $rate/s '
      f'(burst $provider_burst), herald rate $herald_rate/s (burst $herald_burst), $(nproc) cores')
print(f'  first to last accepted send: {span:.2f} s; achieved {achieved:.1f}/s')
print(f'  achieved rate / provider limit: {achieved / $rate:.3f} (goal >= 0.95)')
print(f'  429 answers: {throttled} (goal: near zero); sent twice: {len(keys) - len(set(keys))}')
"
