#!/usr/bin/env bash
# The README's main-job command: installs, builds, then runs the demo on the simulated card.
# (Today: `ikectl selftest`, the AES-GCM known-answer tests on the RTL core under Verilator.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${ESPO_BUILD_DIR:-build}
exec "$BUILD_DIR/ikectl/ikectl" selftest "$@"
