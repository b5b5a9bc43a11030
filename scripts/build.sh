#!/usr/bin/env bash
# Configures and builds herald (Release with debug info) into ./build. ccache and Ninja keep
# rebuilds fast; the parallelism follows the core count.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${HERALD_BUILD_DIR:-$top/build}
jobs=${HERALD_BUILD_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$top/.ccache}
cmake -S "$top" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
