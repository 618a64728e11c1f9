#!/usr/bin/env bash
# The README's test command: installs, runs the static checks, builds, runs every test label,
# cheapest first (unit, rtl, cosim, e2e). Exit non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_debian.sh
bash scripts/check_static.sh    # fail fast, before the long build
bash scripts/build.sh
BUILD_DIR=${ESPO_BUILD_DIR:-build}
for label in unit rtl cosim e2e; do
  if ctest --test-dir "$BUILD_DIR" -N -L "^${label}\$" | grep -q 'Total Tests: [1-9]'; then
    echo "== ctest -L ${label}"
    ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -L "^${label}\$" -j "$(nproc)"
  else
    echo "== ctest -L ${label}: no tests with this label yet"
  fi
done
