#!/usr/bin/env bash
# Builds the espo xclbin for a real card (docs/DEPLOY_XRT.md): hw/ RTL (hw/espo.f, top
# hw/rtl/espo_kernel.sv) -> RTL kernel .xo (Vivado package_xo, hw/xrt/package_kernel.tcl)
# -> xclbin (v++ --link for one platform). Needs Vivado and Vitis (v++) of the platform's release
# on PATH (source <Vitis>/settings64.sh) and the platform installed (PLATFORM_REPO_PATHS or
# /opt/xilinx/platforms). Not runnable on a machine without them: it says so and exits 3.
#
#   scripts/package_xclbin.sh [--platform NAME] [--part PART] [--mem BANK] [--target hw|hw_emu]
#                             [--sa-slots N] [--out DIR] [--dry-run]
#
# Defaults (or environment): ESPO_PLATFORM=xilinx_u250_gen3x16_xdma_4_1_202210_1,
# ESPO_PART=xcu250-figd2104-2L-e (the u250's FPGA), ESPO_GMEM_BANK='DDR[0]', ESPO_SA_SLOTS=1024,
# out dir build-xclbin/<platform>/ (espo_kernel.xo, espo.xclbin, link.cfg, logs).
# --dry-run checks the inputs and prints the commands without running them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

platform=${ESPO_PLATFORM:-xilinx_u250_gen3x16_xdma_4_1_202210_1}
part=${ESPO_PART:-xcu250-figd2104-2L-e}
mem=${ESPO_GMEM_BANK:-DDR[0]}
sa_slots=${ESPO_SA_SLOTS:-1024}
target=hw
out=""
dry_run=0

die() { echo "package_xclbin: $1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --platform) platform=${2:?--platform needs a name}; shift 2 ;;
    --part) part=${2:?--part needs an FPGA part}; shift 2 ;;
    --mem) mem=${2:?--mem needs a bank, e.g. DDR[0] or HBM[0]}; shift 2 ;;
    --target) target=${2:?--target needs hw or hw_emu}; shift 2 ;;
    --sa-slots) sa_slots=${2:?--sa-slots needs a number}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" 2 ;;
  esac
done
[ -n "$out" ] || out=build-xclbin/$platform
case "$target" in hw|hw_emu) ;; *) die "--target: expected hw or hw_emu, got '$target'" 2 ;; esac
case "$sa_slots" in 64|128|256|512|1024|2048|4096) ;;
  *) die "--sa-slots: expected a power of two from 64 to 4096, got '$sa_slots'" 2 ;; esac

# Inputs: the filelist, every file it names, the top, the kernel description.
[ -f hw/espo.f ] || die "hw/espo.f: missing (RTL filelist)"
[ -f hw/rtl/espo_kernel.sv ] || die "hw/rtl/espo_kernel.sv: missing (kernel top)"
[ -f hw/xrt/kernel.xml ] || die "hw/xrt/kernel.xml: missing"
[ -f hw/xrt/package_kernel.tcl ] || die "hw/xrt/package_kernel.tcl: missing"
missing=0
while IFS= read -r line; do
  f=${line%%//*}
  f=${f//[[:space:]]/}
  [ -z "$f" ] && continue
  [ -f "$f" ] || { echo "package_xclbin: hw/espo.f names $f, which does not exist" >&2; missing=1; }
done < hw/espo.f
[ $missing -eq 0 ] || die "fix hw/espo.f first"
grep -q 'hw/rtl/espo_kernel.sv' hw/espo.f || die "hw/espo.f does not list hw/rtl/espo_kernel.sv"

xo=$out/espo_kernel.xo
xclbin=$out/espo.xclbin
cfg=$out/link.cfg
pack_cmd=(vivado -mode batch -nojournal -log "$out/package_kernel.log"
          -source "$repo/hw/xrt/package_kernel.tcl"
          -tclargs "$repo" "$repo/$xo" "$part" "$repo/$out/work" "$sa_slots")
link_cmd=(v++ --link --target "$target" --platform "$platform" --config "$cfg"
          --save-temps --temp_dir "$out/_x" --report_dir "$out/reports" --log_dir "$out/logs"
          --output "$xclbin" "$xo")

if [ $dry_run -eq 1 ]; then
  for tool in vivado v++; do
    command -v "$tool" >/dev/null 2>&1 || echo "package_xclbin: note: $tool is not on PATH here"
  done
  echo "mkdir -p $out"
  echo "cat > $cfg <<'CFG'"
  printf '[connectivity]\nnk=espo_kernel:1:espo_kernel_1\nsp=espo_kernel_1.m_axi_gmem:%s\nCFG\n' "$mem"
  echo "${pack_cmd[*]}"
  echo "${link_cmd[*]}"
  exit 0
fi

for tool in vivado v++; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH: install Vivado and Vitis \
(the release of platform $platform, e.g. 2022.1 for *_202210_1) and source <Vitis>/settings64.sh; \
'$0 --dry-run' prints the commands" 3
done

mkdir -p "$out"
printf '[connectivity]\nnk=espo_kernel:1:espo_kernel_1\nsp=espo_kernel_1.m_axi_gmem:%s\n' \
  "$mem" > "$cfg"
echo "package_xclbin: packaging $xo (part $part, SaSlots $sa_slots)"
"${pack_cmd[@]}"
[ -f "$xo" ] || die "Vivado did not write $xo (see $out/package_kernel.log)"
echo "package_xclbin: linking $xclbin for $platform ($target, m_axi_gmem -> $mem)"
"${link_cmd[@]}"
[ -f "$xclbin" ] || die "v++ did not write $xclbin (see $out/logs)"
echo "package_xclbin: done: $xclbin"
echo "  run: ESPO_XCLBIN=$xclbin ikectl process --device xrt --sa <sa file> --dir out --in in.pcap --out out.pcap"
