// SPDX-License-Identifier: Apache-2.0
#include "espo/ikectl/test_packet.hpp"

#include <algorithm>

#include "espo/driver/ip_packet.hpp"

namespace espo::ikectl {

Bytes MakeUdpTestPacket(const driver::IpAddress& src, const driver::IpAddress& dst,
                        std::size_t size, std::uint32_t n) {
  const std::size_t ip_header = src.v6 ? driver::kIpv6HeaderBytes : driver::kIpv4MinHeaderBytes;
  size = std::max(size, ip_header + driver::kUdpHeaderBytes);
  Bytes p(size, 0);
  const std::size_t payload = size - ip_header;
  if (src.v6) {
    p[0] = 0x60;
    p[4] = static_cast<std::uint8_t>(payload >> 8U);
    p[5] = static_cast<std::uint8_t>(payload);
    p[6] = driver::kIpProtoUdp;
    p[7] = driver::kDefaultTtl;
    std::copy_n(src.bytes.begin(), 16, p.begin() + 8);
    std::copy_n(dst.bytes.begin(), 16, p.begin() + 24);
  } else {
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(size >> 8U);
    p[3] = static_cast<std::uint8_t>(size);
    p[4] = static_cast<std::uint8_t>(n >> 8U);
    p[5] = static_cast<std::uint8_t>(n);
    p[8] = driver::kDefaultTtl;
    p[9] = driver::kIpProtoUdp;
    std::copy_n(src.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(dst.bytes.begin(), 4, p.begin() + 16);
    driver::SetIpv4HeaderChecksum(MutableByteSpan(p.data(), ip_header));
  }
  const std::size_t u = ip_header;
  p[u] = 0x30;  // ports 12345 -> 9 (discard)
  p[u + 1] = 0x39;
  p[u + 3] = 9;
  p[u + 4] = static_cast<std::uint8_t>(payload >> 8U);
  p[u + 5] = static_cast<std::uint8_t>(payload);
  for (std::size_t i = u + driver::kUdpHeaderBytes; i < size; ++i) {
    p[i] = static_cast<std::uint8_t>(i + n);
  }
  return p;
}

}  // namespace espo::ikectl
