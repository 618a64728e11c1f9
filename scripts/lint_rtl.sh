#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Lints hw/rtl with `verilator --lint-only -Wall hw/lint/waivers.vlt`, once per top. A top is a
# module that no other file in hw/rtl instantiates; each top is linted with only the files it
# needs (its packages and instantiated modules, found by name), packages first, so one block's
# unused package parameters do not show up in another block's lint. Files in hw/rtl missing from
# hw/espo.f are reported and linted anyway. Exits non-zero on any warning or error.
# Run from anywhere; registered as ctest `rtl_lint` (hw/CMakeLists.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

# Prints one line per top: "<top> <file> <file> ..." (dependency closure, packages first).
plan="$(python3 - <<'PY'
import pathlib, re, sys
listed = [l.strip() for l in pathlib.Path("hw/espo.f").read_text().splitlines()
          if l.strip() and not l.strip().startswith("//")]
missing = [f for f in listed if not pathlib.Path(f).is_file()]
for f in missing:
    print(f"lint_rtl: {f} is listed in hw/espo.f but does not exist", file=sys.stderr)
listed = [f for f in listed if f not in missing]
files = list(dict.fromkeys(listed + sorted(str(p) for p in pathlib.Path("hw/rtl").glob("*.sv"))))
for f in files:
    if f not in listed:
        print(f"lint_rtl: {f} is not in hw/espo.f", file=sys.stderr)
text = {f: re.sub(r"//.*", "", pathlib.Path(f).read_text()) for f in files}
defines = {}  # name -> (file, kind)
for f, t in text.items():
    for kind, name in re.findall(r"^\s*(module|package)\s+(\w+)", t, re.M):
        defines[name] = (f, kind)
modules = {n for n, (_, k) in defines.items() if k == "module"}
def deps(f):
    t = text[f]
    out = {p for p in re.findall(r"\b(\w+)::", t) if p in defines}
    out |= {m for m in modules if defines[m][0] != f and re.search(
        rf"^\s*{m}\s*(#|\w+\s*\()", t, re.M)}
    return {defines[n][0] for n in out}
instantiated = set()
for f in files:
    for m in modules:
        if defines[m][0] != f and re.search(rf"^\s*{m}\s*(#|\w+\s*\()", text[f], re.M):
            instantiated.add(m)
for top in sorted(modules - instantiated):
    need, todo = set(), [defines[top][0]]
    while todo:
        f = todo.pop()
        if f not in need:
            need.add(f)
            todo.extend(deps(f))
    pkgs = [f for f in files if f in need and re.search(r"^\s*package\s", text[f], re.M)]
    mods = [f for f in files if f in need and f not in pkgs]
    print(top, *pkgs, *mods)
if missing:
    print("__missing__")
PY
)"

status=0
count=0
while read -r top srcs; do
  [[ -z "${top}" ]] && continue
  if [[ "${top}" == "__missing__" ]]; then
    status=1
    continue
  fi
  count=$((count + 1))
  # shellcheck disable=SC2086  # srcs is a space-separated file list
  if out="$(verilator --lint-only -Wall hw/lint/waivers.vlt ${srcs} --top-module "${top}" 2>&1)" \
      && [[ -z "${out}" ]]; then
    echo "lint_rtl: ${top}: clean"
  else
    echo "lint_rtl: ${top}: FAILED"
    echo "${out}"
    status=1
  fi
done <<< "${plan}"
if [[ ${count} -eq 0 ]]; then
  echo "lint_rtl: no tops found" >&2
  exit 1
fi
exit "${status}"
