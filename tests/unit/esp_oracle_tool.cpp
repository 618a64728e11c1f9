// SPDX-License-Identifier: Apache-2.0
//
// esp_oracle_tool write DIR   -> DIR/cpp_packets.json: SAs, inner packets and our ESP packets
// esp_oracle_tool verify DIR  <- DIR/py_packets.json: packets scapy built; each must decapsulate
//                                to the inner packet scapy was given.
// Driven by the esp_scapy_oracle ctest (esp_scapy_oracle.cmake, esp_scapy_oracle.py).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "esp_test_util.hpp"

#include "espo/driver/esp.hpp"
#include "espo/driver/replay_window.hpp"

namespace {

using espo::Bytes;
using espo::testing::InnerSpec;
using espo::testing::SaSpec;
namespace drv = espo::driver;

struct OracleCase {
  int id = 0;
  SaSpec sa;
  InnerSpec inner;
  std::uint64_t seq = 0;
};

std::vector<OracleCase> Cases() {
  std::vector<OracleCase> cases;
  int id = 0;
  for (drv::Mode mode : {drv::Mode::kTunnel, drv::Mode::kTransport}) {
    for (bool outer_v6 : {false, true}) {
      for (bool inner_v6 : {false, true}) {
        if (mode == drv::Mode::kTransport && inner_v6 != outer_v6) continue;
        for (std::size_t key : {16U, 32U}) {
          for (std::uint8_t icv : {8, 12, 16}) {
            for (bool esn : {false, true}) {
              for (bool udp : {false, true}) {
                for (drv::Algorithm alg : {drv::Algorithm::kGcm, drv::Algorithm::kGmac}) {
                  if (alg == drv::Algorithm::kGmac && icv != 16) continue;
                  OracleCase c;
                  c.id = id++;
                  c.sa.mode = mode;
                  c.sa.outer_v6 = outer_v6;
                  c.sa.key_bytes = key;
                  c.sa.icv_bytes = icv;
                  c.sa.esn = esn;
                  c.sa.udp = udp;
                  c.sa.udp_sport = static_cast<std::uint16_t>(udp && (id % 3 == 0) ? 4501 : 4500);
                  c.sa.alg = alg;
                  c.sa.spi = 0x20000 + static_cast<std::uint32_t>(c.id);
                  c.sa.key_seed = static_cast<std::uint8_t>(c.id);
                  c.inner.v6 = inner_v6;
                  // scapy mishandles ext headers together with NAT-T; keep them apart.
                  c.inner.v6_ext_headers = inner_v6 && mode == drv::Mode::kTransport && !udp;
                  c.inner.payload_bytes = 17 + static_cast<std::size_t>(c.id % 9);
                  c.inner.traffic_class = static_cast<std::uint8_t>((c.id * 4) | (c.id % 3));
                  c.inner.fill = static_cast<std::uint8_t>(c.id);
                  // ESN: above 2^32 (seq_hi = 1); without ESN a large 32-bit value.
                  c.seq = esn ? 0x100000003ULL + static_cast<std::uint64_t>(c.id)
                              : 0xFFFF0000ULL + static_cast<std::uint64_t>(c.id);
                  cases.push_back(c);
                }
              }
            }
          }
        }
      }
    }
  }
  return cases;
}

std::string Hex(espo::ByteSpan b) { return espo::ToHex(b); }

int Write(const std::string& dir) {
  nlohmann::json out = nlohmann::json::array();
  for (const OracleCase& c : Cases()) {
    const drv::SaConfig sa = espo::testing::MakeSa(c.sa, drv::Direction::kOut);
    const Bytes inner = c.sa.mode == drv::Mode::kTransport
                            ? espo::testing::MakeTransportInner(sa, c.inner)
                            : espo::testing::MakeInner(c.inner);
    auto pkt = drv::EspEncapsulate(sa, c.seq, inner, drv::OutboundOptions{0x4242});
    if (!pkt) {
      std::cerr << "case " << c.id << ": " << pkt.error().message << "\n";
      return 1;
    }
    nlohmann::json j;
    j["id"] = c.id;
    j["mode"] = c.sa.mode == drv::Mode::kTunnel ? "tunnel" : "transport";
    j["alg"] = c.sa.alg == drv::Algorithm::kGcm ? "gcm" : "gmac";
    j["spi"] = c.sa.spi;
    j["key_and_salt"] = Hex(espo::testing::KeyBytes(c.sa));
    j["icv"] = c.sa.icv_bytes;
    j["esn"] = c.sa.esn;
    j["udp"] = c.sa.udp;
    j["sport"] = c.sa.udp_sport;
    j["dport"] = c.sa.udp_dport;
    j["outer_v6"] = c.sa.outer_v6;
    j["src"] = Hex(sa.src.span());
    j["dst"] = Hex(sa.dst.span());
    j["seq"] = c.seq;
    j["inner"] = Hex(inner);
    j["packet"] = Hex(*pkt);
    out.push_back(j);
  }
  std::ofstream f(dir + "/cpp_packets.json");
  f << out.dump(1) << "\n";
  std::cout << "esp_oracle_tool: wrote " << out.size() << " packets\n";
  return f.good() ? 0 : 1;
}

int Verify(const std::string& dir) {
  std::ifstream f(dir + "/py_packets.json");
  if (!f.good()) {
    std::cerr << "esp_oracle_tool: no py_packets.json\n";
    return 1;
  }
  const nlohmann::json in = nlohmann::json::parse(f);
  std::map<int, OracleCase> by_id;
  for (const OracleCase& c : Cases()) by_id[c.id] = c;
  int ok = 0;
  int bad = 0;
  for (const auto& j : in) {
    const OracleCase& c = by_id.at(j.at("id").get<int>());
    SaSpec spec = c.sa;
    const std::uint64_t seq = j.at("seq").get<std::uint64_t>();
    spec.replay_seq = seq - 1;  // so that ESN inference lands in seq's subspace
    const drv::SaConfig sa = espo::testing::MakeSa(spec, drv::Direction::kIn);
    auto window = drv::ReplayWindow::Create(sa.replay_window, sa.esn, sa.replay_seq);
    const Bytes pkt = *espo::FromHex(j.at("packet").get<std::string>());
    const Bytes inner = *espo::FromHex(j.at("inner").get<std::string>());
    const drv::EspInboundResult r = drv::EspDecapsulate(sa, *window, pkt);
    if (!r.accepted() || r.packet != inner || r.seq != seq) {
      std::cerr << "case " << c.id << " (" << j.value("what", "") << "): "
                << (r.accepted() ? "wrong inner packet" : std::string(drv::ToString(r.drop))) << " "
                << r.detail << "\n";
      ++bad;
    } else {
      ++ok;
    }
  }
  std::cout << "esp_oracle_tool: scapy-built packets accepted " << ok << ", failed " << bad << "\n";
  if (ok + bad < static_cast<int>(by_id.size())) {
    std::cerr << "esp_oracle_tool: expected at least " << by_id.size() << " packets\n";
    return 1;
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  if (args.size() != 3 || (args[1] != "write" && args[1] != "verify")) {
    std::cerr << "usage: esp_oracle_tool write|verify DIR\n";
    return 2;
  }
  return args[1] == "write" ? Write(args[2]) : Verify(args[2]);
}
