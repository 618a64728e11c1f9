// SPDX-License-Identifier: Apache-2.0
//
// espo_make_test_xclbin: writes a metadata-only xclbin (no bitstream) that declares the espo
// kernel the way `v++ -l` records hw/xrt/kernel.xml: one user-managed RTL kernel `espo_kernel`
// with one compute unit `espo_kernel_1` (AXI-Lite s_axi_control, AXI master m_axi_gmem on the
// second of two DDR banks). It exists so that XRT's no-op shim (libxrt_noop) can load an xclbin
// and open the kernel's IP in tests; a card needs the xclbin from scripts/package_xclbin.sh.
//
// Why not xclbinutil: Debian 12's libxrt-utils ships /usr/bin/xclbinutil as a wrapper around
// /usr/bin/unwrapped/xclbinutil, which the package does not contain. The layout comes from XRT's
// own <xclbin.h>, whose static_asserts pin every struct size.
//
// Usage: espo_make_test_xclbin [--variant=espo|hs|other] <out.xclbin>
//   espo   the kernel as scripts/package_xclbin.sh builds it (user-managed, ap_ctrl_none)
//   hs     the same kernel declared ap_ctrl_hs (XrtDevice must refuse it)
//   other  no espo_kernel, only a compute unit other_kernel:other_kernel_1
#include <xclbin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::uint64_t kCuBase = 0x1800000;       // CU base address on the AXI-Lite bus
constexpr std::uint64_t kBankBase = 0x4000000000;  // DDR bank 0 base (u250 DDR[0])
// gmem goes to the second of two banks, so that a test sees XrtDevice follow CONNECTIVITY rather
// than default to bank 0.
constexpr std::int32_t kGmemBank = 1;
constexpr std::uint64_t kBankKb = 16ULL * 1024 * 1024;  // 16 GiB, in KiB

struct Variant {
  std::string_view name;
  std::string_view kernel;    // kernel name
  std::string_view protocol;  // hwControlProtocol in the metadata
  IP_CONTROL control;         // IP_LAYOUT control type
  std::uint8_t uuid_tag;      // last uuid byte: the no-op shim keys loaded xclbins by uuid
};

constexpr std::array<Variant, 3> kVariants = {{
    {"espo", "espo_kernel", "user_managed", AP_CTRL_NONE, 1},
    {"hs", "espo_kernel", "ap_ctrl_hs", AP_CTRL_HS, 2},
    {"other", "other_kernel", "user_managed", AP_CTRL_NONE, 3},
}};

// EMBEDDED_METADATA as v++ writes it: kernel ports and arguments (hw/xrt/kernel.xml) plus the
// instance. in_buf and out_buf are the gmem pointers at IN_ADDR (0x050) and OUT_ADDR (0x060)
// (docs/REGISTERS.md); CONNECTIVITY maps both to bank 1 (kGmemBank).
std::string Metadata(const Variant& v) {
  const std::string k(v.kernel);
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<project name="espo_noop_test">
  <platform vendor="xilinx" boardid="noop" name="espo_noop_test" featureRomTime="0">
    <version major="1" minor="0"/>
    <description/>
    <board name="noop" vendor="xilinx" fpgaDevice="noop"/>
    <build_flow/>
    <host architecture="x86_64"/>
    <device name="fpga0" fpgaDevice="noop" addrWidth="0">
      <core name="OCL_REGION_0" target="hw" type="clc_region" clockFreq="0" numComputeUnits="1">
        <kernel name=")" +
         k + R"(" language="ip" vlnv="espo.dev:kernel:)" + k +
         R"(:1.0" attributes="" preferredWorkGroupSizeMultiple="0" workGroupSize="1" debug="false" interrupt="false" hwControlProtocol=")" +
         std::string(v.protocol) + R"(">
          <port name="m_axi_gmem" mode="master" range="0xFFFFFFFFFFFFFFFF" dataWidth="512" portType="addressable" base="0x0"/>
          <port name="s_axi_control" mode="slave" range="0x1000" dataWidth="32" portType="addressable" base="0x0"/>
          <arg name="in_buf" addressQualifier="1" id="0" port="m_axi_gmem" size="0x8" offset="0x050" hostOffset="0x0" hostSize="0x8" type="void*"/>
          <arg name="in_count" addressQualifier="0" id="1" port="s_axi_control" size="0x4" offset="0x058" hostOffset="0x0" hostSize="0x4" type="uint"/>
          <arg name="out_buf" addressQualifier="1" id="2" port="m_axi_gmem" size="0x8" offset="0x060" hostOffset="0x0" hostSize="0x8" type="void*"/>
          <arg name="out_size" addressQualifier="0" id="3" port="s_axi_control" size="0x4" offset="0x068" hostOffset="0x0" hostSize="0x4" type="uint"/>
          <instance name=")" +
         k + R"(_1">
            <addrRemap base="0x1800000" range="0x1000" port="s_axi_control"/>
          </instance>
        </kernel>
      </core>
    </device>
  </platform>
</project>
)";
}

template <class T>
void Append(std::vector<std::uint8_t>& out, const T& value) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Copies `text` into a fixed, NUL-terminated field.
template <class Char, std::size_t Extent>
void SetName(std::span<Char, Extent> field, std::string_view text) {
  std::memset(field.data(), 0, field.size());
  std::memcpy(field.data(), text.data(), std::min(text.size(), field.size() - 1));
}

struct Section {
  axlf_section_kind kind;
  std::string_view name;
  std::vector<std::uint8_t> data;
};

std::vector<std::uint8_t> MemTopology() {
  std::vector<std::uint8_t> out;
  Append(out, std::int32_t{2});
  Append(out, std::array<std::uint8_t, 4>{});  // mem_data is 8-byte aligned
  for (std::uint64_t i = 0; i < 2; ++i) {
    mem_data bank{};
    bank.m_type = MEM_DDR4;
    bank.m_used = 1;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-union-access): xclbin.h's C layout
    bank.m_size = kBankKb;
    bank.m_base_address = kBankBase + i * kBankKb * 1024;
    // NOLINTEND(cppcoreguidelines-pro-type-union-access)
    SetName(std::span(bank.m_tag), i == 0 ? "bank0" : "bank1");
    Append(out, bank);
  }
  return out;
}

std::vector<std::uint8_t> IpLayout(const Variant& v) {
  std::vector<std::uint8_t> out;
  Append(out, std::int32_t{1});
  Append(out, std::array<std::uint8_t, 4>{});  // ip_data is 8-byte aligned
  ip_data ip{};
  ip.m_type = IP_KERNEL;
  // No interrupt; the control protocol in bits 15:8.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-union-access): xclbin.h's C layout
  ip.properties = static_cast<std::uint32_t>(v.control) << IP_CONTROL_SHIFT;
  ip.m_base_address = kCuBase;
  SetName(std::span(ip.m_name), std::string(v.kernel) + ":" + std::string(v.kernel) + "_1");
  Append(out, ip);
  return out;
}

std::vector<std::uint8_t> Connectivity() {
  std::vector<std::uint8_t> out;
  Append(out, std::int32_t{2});
  for (const std::int32_t arg : {0, 2}) {  // in_buf, out_buf -> bank 1
    connection c{};
    c.arg_index = arg;
    c.m_ip_layout_index = 0;
    c.mem_data_index = kGmemBank;
    Append(out, c);
  }
  return out;
}

std::vector<std::uint8_t> Build(const Variant& v) {
  const std::string xml = Metadata(v);
  std::vector<Section> sections;
  sections.push_back({MEM_TOPOLOGY, "mem_topology", MemTopology()});
  sections.push_back({IP_LAYOUT, "ip_layout", IpLayout(v)});
  sections.push_back({CONNECTIVITY, "connectivity", Connectivity()});
  sections.push_back({EMBEDDED_METADATA, "metadata", {xml.begin(), xml.end()}});

  // struct axlf already holds the first section header.
  std::vector<std::uint8_t> file(sizeof(axlf) +
                                 (sections.size() - 1) * sizeof(axlf_section_header));
  std::vector<axlf_section_header> headers;
  for (const Section& s : sections) {
    while (file.size() % 8 != 0) file.push_back(0);
    axlf_section_header h{};
    h.m_sectionKind = s.kind;
    SetName(std::span(h.m_sectionName), s.name);
    h.m_sectionOffset = file.size();
    h.m_sectionSize = s.data.size();
    headers.push_back(h);
    file.insert(file.end(), s.data.begin(), s.data.end());
  }

  axlf top{};
  std::memcpy(std::data(top.m_magic), "xclbin2", sizeof(top.m_magic));
  top.m_signature_length = -1;
  std::memset(std::data(top.reserved), 0xFF, sizeof(top.reserved));
  std::memset(std::data(top.m_keyBlock), 0xFF, sizeof(top.m_keyBlock));
  top.m_uniqueId = 0x6573706fU;  // "espo"
  top.m_header.m_length = file.size();
  top.m_header.m_versionMajor = 2;
  top.m_header.m_versionMinor = 13;
  top.m_header.m_mode = XCLBIN_FLAT;
  SetName(std::span(top.m_header.m_platformVBNV), "xilinx_espo_noop_test");
  // Fixed uuid (reproducible builds), one per variant.
  const std::array<std::uint8_t, 16> uuid = {0xe5, 0x90, 0x0c, 0x1b, 0x7e, 0x57, 0x4a, 0x11,
                                             0x9d, 0x0e, 0x5e, 0x50, 0x00, 0x00, 0x00, v.uuid_tag};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-union-access): xclbin.h's C layout
  std::memcpy(std::data(top.m_header.uuid), uuid.data(), uuid.size());
  top.m_header.m_numSections = static_cast<std::uint32_t>(sections.size());
  std::memcpy(file.data(), &top, offsetof(axlf, m_sections));
  std::memcpy(file.data() + offsetof(axlf, m_sections), headers.data(),
              headers.size() * sizeof(axlf_section_header));
  return file;
}

}  // namespace

int main(int argc, char** argv) {
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  std::string_view variant = "espo";
  std::string_view out_path;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg.starts_with("--variant=")) {
      variant = arg.substr(std::string_view("--variant=").size());
    } else if (out_path.empty()) {
      out_path = arg;
    } else {
      out_path = {};
      break;
    }
  }
  const Variant* chosen = nullptr;
  for (const Variant& v : kVariants) {
    if (v.name == variant) chosen = &v;
  }
  if (out_path.empty() || chosen == nullptr) {
    std::cerr << "usage: espo_make_test_xclbin [--variant=espo|hs|other] <out.xclbin>\n";
    return 2;
  }
  const std::vector<std::uint8_t> file = Build(*chosen);
  std::ofstream os{std::string(out_path), std::ios::binary | std::ios::trunc};
  os.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  if (!os) {
    std::cerr << "espo_make_test_xclbin: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}
