// SPDX-License-Identifier: Apache-2.0
//
// SaConfig: one Security Association as the driver installs it, independent of any device.
// The text form (`sa spi 0x.. dir out mode tunnel ...`, docs/SA_SYNTAX.md) parses into this.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "espo/driver/key_material.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

enum class Direction : std::uint8_t { kOut = 0, kIn = 1 };
enum class Mode : std::uint8_t { kTunnel = 0, kTransport = 1 };
enum class Algorithm : std::uint8_t {
  kGcm = 0,   // rfc4106(gcm(aes)): AES-GCM ESP
  kGmac = 1,  // rfc4543(gcm(aes)): ENCR_NULL_AUTH_AES_GMAC, payload in clear
};

std::string_view ToString(Direction dir);
std::string_view ToString(Mode mode);
std::string_view ToString(Algorithm alg);

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  static Result<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  ByteSpan span() const { return {bytes.data(), v6 ? 16U : 4U}; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// 0 means "no limit". Packets/bytes semantics: SPEC 12.3.
struct SaLimits {
  std::uint64_t soft_packets = 0;
  std::uint64_t hard_packets = 0;
  std::uint64_t soft_bytes = 0;
  std::uint64_t hard_bytes = 0;
  friend bool operator==(const SaLimits&, const SaLimits&) = default;
};

struct UdpEncap {
  std::uint16_t sport = 4500;
  std::uint16_t dport = 4500;
  friend bool operator==(const UdpEncap&, const UdpEncap&) = default;
};

struct SaConfig {
  std::uint32_t spi = 0;
  Direction dir = Direction::kOut;
  Mode mode = Mode::kTunnel;
  IpAddress src;
  IpAddress dst;
  Algorithm alg = Algorithm::kGcm;
  KeyMaterial key;              // AES key + 4-byte salt
  std::uint8_t icv_bytes = 16;  // 8, 12 or 16
  bool esn = false;
  std::uint64_t oseq = 0;            // out: last sequence number used; first packet carries oseq+1
  std::uint32_t replay_window = 64;  // in: packets; 0 = no replay check (only without ESN)
  std::uint64_t replay_seq = 0;      // in: highest sequence number already received
  std::optional<UdpEncap> encap;     // RFC 3948 UDP encapsulation
  SaLimits limits;

  SaConfig Clone() const;
};

// Checks the cross-field rules (SPEC 12.2/12.3): SPI != 0, ICV 8/12/16 (GMAC: 16), window a power
// of two <= 1024 or 0 (0 only without ESN), soft < hard where both set, oseq below the sequence
// space, matching address families. The error names the offending field.
Status Validate(const SaConfig& sa);

}  // namespace espo::driver
