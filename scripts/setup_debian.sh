#!/usr/bin/env bash
# Installs every Debian 12 package espo needs to build, test and run its demo.
# Idempotent: when everything is present it prints one line and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  verilator
  libssl-dev
  libxrt-dev libxrt-utils
  libnl-3-dev libnl-xfrm-3-dev libnl-genl-3-dev libnl-route-3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libexpected-dev
  libpcap-dev
  python3 python3-cryptography python3-scapy
  clang-format clang-tidy clang libclang-rt-14-dev
  iproute2 tshark
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
  tcpdump ethtool
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
