#!/usr/bin/env bash
# Installs what is missing (Debian 12), configures and builds espo in build/ (Release).
# Extra arguments go to the CMake configure step, e.g. scripts/build.sh -DESPO_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_debian.sh
BUILD_DIR=${ESPO_BUILD_DIR:-build}
JOBS=${ESPO_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
