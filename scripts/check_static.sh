#!/usr/bin/env bash
# Fast static checks (no build needed): generated files up to date, formatting, layering,
# RTL lint, file sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
echo "== regmap: generated files up to date"
/usr/bin/python3 hw/regmap/regtool.py --check || fail=1
echo "== clang-format"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || true)
if [ -n "$files" ]; then
  # shellcheck disable=SC2086
  clang-format --dry-run -Werror $files || fail=1
fi
echo "== layering"
bash scripts/check_layering.sh || fail=1
echo "== RTL lint"
bash scripts/lint_rtl.sh || fail=1
echo "== file sizes (> 600 lines flagged, not fatal)"
git ls-files '*.cpp' '*.hpp' '*.sv' '*.py' | while read -r f; do
  n=$(wc -l <"$f"); [ "$n" -le 600 ] || echo "  note: $f has $n lines"
done
exit $fail
