// SPDX-License-Identifier: Apache-2.0
//
// Test traffic shared by the daemon's `sa.send`, `ikectl bench` and the demo's helpers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "espo/driver/bytes.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::ikectl {

// A UDP datagram (port 12345 -> 9, discard) from src to dst, IPv4 or IPv6 after src's family,
// of `size` bytes in total (at least the IP + UDP headers). `n` varies the IPv4 Identification
// and the payload bytes so that consecutive packets differ. The UDP checksum is 0 (IPv4: none;
// IPv6 receivers that insist on it are not the engine, which never looks).
Bytes MakeUdpTestPacket(const driver::IpAddress& src, const driver::IpAddress& dst,
                        std::size_t size, std::uint32_t n);

}  // namespace espo::ikectl
