#!/usr/bin/env bash
# Configures and builds herald (RelWithDebInfo) into ./build: every target, or only the targets
# named (scripts/build.sh herald). ccache and Ninja keep rebuilds fast; the parallelism follows
# the core count.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${HERALD_BUILD_DIR:-$top/build}
jobs=${HERALD_BUILD_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$top/.ccache}
# Builds in other directories (a second checkout, a scratch build) share the cache.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S "$top" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
