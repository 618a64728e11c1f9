// SPDX-License-Identifier: Apache-2.0
//
// Builders shared by the ESP tests and the scapy oracle tool: SAs with hand-made addresses
// (independent of IpAddress::Parse), and IPv4/IPv6 packets with a UDP or TCP-like payload.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::testing {

inline driver::IpAddress V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  driver::IpAddress ip;
  ip.v6 = false;
  ip.bytes = {a, b, c, d};
  return ip;
}

inline driver::IpAddress V6(std::uint8_t last, std::uint8_t net = 1) {
  driver::IpAddress ip;
  ip.v6 = true;
  ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, net, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return ip;
}

struct SaSpec {
  driver::Mode mode = driver::Mode::kTunnel;
  bool outer_v6 = false;
  std::size_t key_bytes = 16;
  std::uint8_t icv_bytes = 16;
  bool esn = false;
  bool udp = false;
  std::uint16_t udp_sport = 4500;
  std::uint16_t udp_dport = 4500;
  driver::Algorithm alg = driver::Algorithm::kGcm;
  std::uint32_t spi = 0x1000;
  std::uint32_t window = 64;
  std::uint64_t replay_seq = 0;
  std::uint8_t key_seed = 1;
};

inline Bytes KeyBytes(const SaSpec& s) {
  Bytes k(s.key_bytes + 4);
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<std::uint8_t>(s.key_seed * 31U + i * 7U + 3U);
  }
  return k;
}

// `dir` kOut: src = A, dst = B. kIn (the peer's view of the same SA): also src = A, dst = B.
inline driver::SaConfig MakeSa(const SaSpec& s, driver::Direction dir) {
  driver::SaConfig sa;
  sa.spi = s.spi;
  sa.dir = dir;
  sa.mode = s.mode;
  sa.src = s.outer_v6 ? V6(1) : V4(192, 0, 2, 1);
  sa.dst = s.outer_v6 ? V6(2) : V4(198, 51, 100, 2);
  sa.alg = s.alg;
  const Bytes k = KeyBytes(s);
  auto key = driver::KeyMaterial::FromBytes(k);
  if (key) sa.key = std::move(*key);
  sa.icv_bytes = s.icv_bytes;
  sa.esn = s.esn;
  sa.replay_window = s.window;
  sa.replay_seq = s.replay_seq;
  if (s.udp) sa.encap = driver::UdpEncap{s.udp_sport, s.udp_dport};
  return sa;
}

struct InnerSpec {
  bool v6 = false;
  std::size_t payload_bytes = 40;  // bytes after the IP header (and extension headers)
  std::uint8_t traffic_class = 0;  // DSCP << 2 | ECN
  bool df = true;
  std::uint8_t protocol = driver::kIpProtoUdp;
  bool v6_ext_headers = false;  // Hop-by-Hop, Routing (type 0 stub), Destination Options
  driver::IpAddress src;        // defaults set by MakeInner when family mismatches
  driver::IpAddress dst;
  std::uint8_t fill = 0;
};

// An IPv4 or IPv6 packet; the payload starts with a UDP-like 8-byte header then a pattern.
inline Bytes MakeInner(InnerSpec s) {
  if (s.src.v6 != s.v6 || (s.src == driver::IpAddress{} && !s.v6)) {
    s.src = s.v6 ? V6(10, 7) : V4(10, 0, 0, 1);
    s.dst = s.v6 ? V6(20, 7) : V4(10, 0, 1, 2);
  }
  Bytes payload(s.payload_bytes);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<std::uint8_t>(s.fill + i * 13U + 5U);
  }
  Bytes p;
  if (!s.v6) {
    p.assign(20, 0);
    p[0] = 0x45;
    p[1] = s.traffic_class;
    StoreBe16(MutableByteSpan(p).subspan(2), static_cast<std::uint16_t>(20 + payload.size()));
    StoreBe16(MutableByteSpan(p).subspan(4), 0x1234);
    StoreBe16(MutableByteSpan(p).subspan(6), s.df ? 0x4000 : 0);
    p[8] = 17;
    p[9] = s.protocol;
    std::copy_n(s.src.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(s.dst.bytes.begin(), 4, p.begin() + 16);
    driver::SetIpv4HeaderChecksum(MutableByteSpan(p));
  } else {
    Bytes ext;
    std::uint8_t first = s.protocol;
    if (s.v6_ext_headers) {
      // Hop-by-Hop (8 bytes: PadN), Routing (type 0, no addresses, 0 segments left: 8 bytes),
      // Destination Options (8 bytes: PadN).
      first = driver::kIpProtoHopByHop;
      // clang-format off
      ext = {driver::kIpProtoRouting,  0, 1, 4, 0, 0, 0, 0,
             driver::kIpProtoDestOpts, 0, 0, 0, 0, 0, 0, 0,
             s.protocol,               0, 1, 4, 0, 0, 0, 0};
      // clang-format on
    }
    p.assign(40, 0);
    StoreBe32(p, (6U << 28U) | (static_cast<std::uint32_t>(s.traffic_class) << 20U) | 0x12345U);
    StoreBe16(MutableByteSpan(p).subspan(4),
              static_cast<std::uint16_t>(ext.size() + payload.size()));
    p[6] = first;
    p[7] = 33;
    std::copy_n(s.src.bytes.begin(), 16, p.begin() + 8);
    std::copy_n(s.dst.bytes.begin(), 16, p.begin() + 24);
    p.insert(p.end(), ext.begin(), ext.end());
  }
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

// For transport mode the inner packet's addresses are the SA's.
inline Bytes MakeTransportInner(const driver::SaConfig& sa, InnerSpec s) {
  s.v6 = sa.dst.v6;
  s.src = sa.src;
  s.dst = sa.dst;
  return MakeInner(s);
}

}  // namespace espo::testing
