#!/usr/bin/env bash
# The README's main-job command: installs, builds, then runs the demo on the simulated card.
# First the AES-GCM known-answer tests on the RTL core (`ikectl selftest`, a few seconds), then
# `ikectl demo`: two gateways over the RTL (SimDevice), hundreds of SAs, traffic both ways,
# count-based rekeys make-before-break, zero loss (about a minute). Arguments go to the demo,
# e.g. `scripts/demo.sh --sas 200 --device model --json`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${ESPO_BUILD_DIR:-build}
echo "== ikectl selftest (AES-GCM known-answer vectors: OpenSSL and the RTL core)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$BUILD_DIR/ikectl/ikectl" selftest >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
tail -n 1 "$log"
echo "== ikectl demo $*"
"$BUILD_DIR/ikectl/ikectl" demo "$@"
