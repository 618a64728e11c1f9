#!/usr/bin/env bash
# Layering (DESIGN.md): the SDK and ikectl never see registers, Verilator or XRT; only
# driver/src/xrt/ includes <xrt/...>; only sim/ and tests/rtl, bench include verilated headers.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
check() {  # check <pattern> <description> <paths...>
  local pattern=$1 what=$2; shift 2
  local hits
  hits=$(grep -rnE "$pattern" "$@" 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "layering: $what:"; echo "$hits" | sed 's/^/  /'; bad=1
  fi
}
check '#include [<"](espo/regmap/|verilated|V[a-z_]+\.h|xrt/)' "sdk/ must not include registers, Verilator or XRT" sdk
check '#include [<"](espo/regmap/|verilated|V[a-z_]+\.h|xrt/)' "ikectl/ must not include registers, Verilator or XRT" ikectl
check '#include [<"]xrt/' "only driver/src/xrt/ may include XRT" driver/include $(find driver/src -maxdepth 1 -name '*.cpp') sim sdk ikectl
check '#include [<"]verilated' "only sim/ and tests may include Verilator headers" driver sdk ikectl
[ $bad -eq 0 ] && echo "layering: ok"
exit $bad
