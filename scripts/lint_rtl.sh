#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Lints hw/rtl with `verilator --lint-only -Wall` (plus hw/lint/waivers.vlt), once per top: every
# module in hw/rtl that no other module instantiates, with the files of hw/espo.f. Exits non-zero
# on any warning or error. Run from anywhere; registered as ctest `rtl_lint`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

mapfile -t files < <(grep -v -e '^[[:space:]]*//' -e '^[[:space:]]*$' hw/espo.f)
# Files in hw/rtl that are not in the filelist are linted too (and reported).
for f in hw/rtl/*.sv; do
  if ! printf '%s\n' "${files[@]}" | grep -qx "${f}"; then
    echo "lint_rtl: ${f} is not in hw/espo.f" >&2
    files+=("${f}")
  fi
done

# Tops: modules that no file instantiates.
mapfile -t modules < <(sed -n 's/^module[[:space:]]\+\([a-zA-Z0-9_]\+\).*/\1/p' "${files[@]}")
status=0
for top in "${modules[@]}"; do
  if grep -qE "^[[:space:]]*${top}[[:space:]]*(#|u_)" "${files[@]}"; then
    continue  # instantiated somewhere: linted as part of its top
  fi
  echo "lint_rtl: ${top}"
  if ! out="$(verilator --lint-only -Wall hw/lint/waivers.vlt "${files[@]}" --top-module "${top}" 2>&1)" \
      || [[ -n "${out}" ]]; then
    echo "${out}"
    status=1
  fi
done
if [[ ${status} -eq 0 ]]; then echo "lint_rtl: clean (${#modules[@]} modules)"; fi
exit "${status}"
