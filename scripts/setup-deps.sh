#!/usr/bin/env bash
# Installs everything herald needs to build, run and test on Debian 12: compilers and libraries
# from Debian's packages (the lab's Python peer and charts: Flask, gevent, requests, matplotlib;
# python3-prometheus-client and promtool from prometheus check metrics and alert rules), and the
# npm test peers (maildev, mailparser, and the OTLP schema compiled into
# @opentelemetry/otlp-transformer) under tools/node/.
# With --no-peers the npm step is skipped (running herald needs no test peer).
# Safe to run again: each step is skipped when what it installs is already there.
set -euo pipefail
with_peers=1
[ "${1:-}" = "--no-peers" ] && with_peers=0
top=$(cd "$(dirname "$0")/.." && pwd)

apt_packages=(
    build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
    libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
    libcurl4-openssl-dev libssl-dev libidn2-dev libsqlite3-dev sqlite3
    libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev libkainjow-mustache-dev
    libgtest-dev libgmock-dev prometheus-cpp-dev wrk python3 nodejs
    python3-flask python3-gevent python3-requests python3-matplotlib
    python3-prometheus-client python3-yaml prometheus
)

missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo_cmd apt-get update -qq
    # Only promtool is wanted from the prometheus package: keep Debian from starting its server
    # (it would listen on every interface) by refusing service starts during the install.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee "$policy" >/dev/null
        $sudo_cmd chmod +x "$policy"
        made_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || status=$?
    [ "$made_policy" = 1 ] && $sudo_cmd rm -f "$policy"
    [ "$status" = 0 ] || exit "$status"
fi

if [ "$with_peers" = 1 ] && { [ ! -x "$top/tools/node/node_modules/.bin/maildev" ] \
    || [ ! -d "$top/tools/node/node_modules/mailparser" ] \
    || [ ! -d "$top/tools/node/node_modules/@opentelemetry/otlp-transformer" ]; }; then
    echo "setup: installing npm test peers" >&2
    (cd "$top/tools/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
