// SPDX-License-Identifier: Apache-2.0
//
// The executable specification of ESP processing with AES-GCM (RFC 4106) and AES-GMAC (RFC 4543):
// outbound encapsulation, inbound parsing and decapsulation, tunnel and transport mode, IPv4 and
// IPv6, ESN, RFC 3948 UDP encapsulation. Used by the reference ModelDevice and by the SDK's
// software fallback. The rules (order of checks, byte counting, header fields) are in
// docs/ESP_PROCESSING.md and SPEC sections 1, 2, 4, 5.1, 12.2 and 12.3.
//
// All functions are thread-safe on distinct arguments (no global state); a ReplayWindow has one
// owner. No function throws; errors and drops are values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "espo/driver/bytes.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/replay_window.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

inline constexpr std::size_t kEspHeaderBytes = 8;   // SPI, sequence number
inline constexpr std::size_t kEspIvBytes = 8;       // explicit IV (= 64-bit sequence counter)
inline constexpr std::size_t kEspTrailerBytes = 2;  // Pad Length, Next Header
inline constexpr std::uint8_t kNextHeaderDummy = 59;

// The five drop reasons of SPEC 12.2 (6). kNoSa and kLifetime are decided by callers (SA lookup,
// limits); EspDecapsulate uses kNoSa only when handed an SA whose SPI/destination/encapsulation
// does not match the packet.
enum class DropReason : std::uint8_t { kAuth, kReplay, kNoSa, kMalformed, kLifetime };
std::string_view ToString(DropReason reason);  // "auth", "replay", "no_sa", "malformed", "lifetime"

struct OutboundOptions {
  std::uint16_t ipv4_id = 0;  // Identification of an outer IPv4 header (tunnel mode)
};

// RFC 4106 section 5 / RFC 4543 section 3.2 AAD: SPI || seq_low (8 bytes), or with ESN
// SPI || seq_high || seq_low (12 bytes). GMAC appends IV || payload .. Next Header to it.
Bytes EspAad(std::uint32_t spi, std::uint64_t seq, bool esn);
// GCM nonce = salt(4) || IV(8).
std::array<std::uint8_t, 12> EspNonce(ByteSpan salt, ByteSpan iv);

// Padding bytes for `payload_bytes` of payload: minimal, so that payload + padding + 2 is a
// multiple of 4 (SPEC 1.3).
std::size_t EspPadBytes(std::size_t payload_bytes);
// Bytes counted for lifetimes (SPEC 12.3): payload + padding + 2, the span the cipher covers.
std::size_t EspCountedBytes(std::size_t payload_bytes);

// Builds the ESP packet for `inner_ip_packet` with sequence number `seq` (the full 64-bit counter;
// the caller owns the counter, SPEC 1.4). `sa` must be an outbound SA (dir kOut) with a key;
// `seq` must be >= 1 and, without ESN, < 2^32. Tunnel mode returns outer header [+ UDP] + ESP;
// transport mode returns the original IP header (IPv4 options / IPv6 extension headers kept) with
// ESP inserted. Errors: Errc::kInvalidArgument for a bad SA or sequence number, Errc::kParse for
// an input that is not a whole IPv4/IPv6 packet, a transport-mode fragment or an address family
// different from the SA's, Errc::kCrypto if OpenSSL fails.
Result<Bytes> EspEncapsulate(const SaConfig& sa, std::uint64_t seq, ByteSpan inner_ip_packet,
                             const OutboundOptions& opt = {});

// Inbound classification (SPEC 1.7 steps 1-3, 5.1).
enum class PacketKind : std::uint8_t {
  kEsp,     // an ESP packet (IP protocol 50, or UDP-encapsulated)
  kNotEsp,  // UDP to an ESP-in-UDP port carrying IKE (non-ESP marker) or a NAT keepalive: goes to
            // software, is not a drop
};

struct EspParseOptions {
  // UDP destination port treated as ESP-in-UDP (RFC 3948). With `any_udp_port` every UDP packet is
  // classified by the marker rules (for SAs whose port a NAT changed).
  std::uint16_t udp_port = kNatTraversalPort;
  bool any_udp_port = false;
};

enum class NotEspKind : std::uint8_t {
  kNone,          // kind == kEsp
  kIke,           // non-ESP marker: 4 zero bytes where the SPI would be
  kNatKeepalive,  // a 1-byte 0xFF payload
  kOtherUdp,      // UDP to a port that is not the ESP-in-UDP port
};

struct EspHeaderInfo {
  PacketKind kind = PacketKind::kEsp;
  NotEspKind not_esp = NotEspKind::kNone;
  std::uint8_t ip_version = 0;  // outer header: 4 or 6
  IpAddress src;
  IpAddress dst;
  bool udp_encap = false;
  std::uint16_t udp_sport = 0;
  std::uint16_t udp_dport = 0;
  std::uint32_t spi = 0;         // kEsp only
  std::uint32_t seq_low = 0;     // kEsp only
  std::size_t esp_offset = 0;    // offset of the SPI (kEsp) or of the UDP payload (kNotEsp)
  std::size_t esp_bytes = 0;     // ESP packet length: SPI .. ICV, per the IP/UDP length fields
  std::size_t packet_bytes = 0;  // the outer packet per its length field (link padding excluded)
  // The Next Header byte that names ESP (or UDP): IPv4 protocol byte (9), IPv6 base (6) or the
  // last extension header before ESP. Transport-mode decapsulation rewrites it.
  std::size_t next_header_field = 0;
};

// Parses the outer headers of an inbound packet. Errors (Errc::kParse, drop reason kMalformed):
// not IPv4/IPv6, lengths inconsistent with the buffer, bad IPv4 header checksum, fragments (SPEC
// 1.7 step 1), a protocol that is neither ESP (50) nor UDP (17), a UDP length that disagrees with
// the IP length, a wrong non-zero UDP checksum, an ESP part shorter than SPI + sequence number,
// SPI 0 on the ESP protocol. UDP to the ESP-in-UDP port with a non-ESP marker or a keepalive, and
// UDP to any other port, are kind kNotEsp (to software, not a drop).
Result<EspHeaderInfo> ParseEspPacket(ByteSpan outer_packet, const EspParseOptions& opt = {});

enum class InboundVerdict : std::uint8_t {
  kAccept,        // `packet` holds the released packet
  kDiscardDummy,  // Next Header 59 (TFC dummy): authentic, window updated, nothing released,
                  // not a drop (SPEC 1.2)
  kNotEsp,        // IKE / NAT keepalive / other UDP: hand to software, not a drop (SPEC 12.3)
  kDrop,          // see `drop`
};

struct EspInboundResult {
  InboundVerdict verdict = InboundVerdict::kDrop;
  DropReason drop = DropReason::kMalformed;  // meaningful for kDrop only
  Bytes packet;           // kAccept: tunnel: the inner packet; transport: the rebuilt packet
  std::uint64_t seq = 0;  // the 64-bit sequence number (inferred with ESN), 0 if not reached
  std::uint64_t counted_bytes = 0;  // kAccept / kDiscardDummy: payload + TFC + padding + 2
  bool encap_port_changed = false;  // UDP source port differs from the SA's (NAT mapping change,
                                    // SPEC 12.3: report to software; not a drop)
  std::string detail;               // one line for logs; never key material or plaintext

  bool accepted() const { return verdict == InboundVerdict::kAccept; }
};

// Full inbound processing of one packet for inbound SA `sa` (dir kIn) and its `window`, in the
// order of SPEC 1.7: parse (ESP-in-UDP port = the SA's encap dport, else 4500), SA match (SPI,
// destination, UDP encapsulation: mismatch = kNoSa), length sanity, ESN inference, replay
// pre-check, ICV verify (constant time), trailer and inner checks, replay re-check and window
// update, release. The window changes only when the packet is accepted or is an authentic dummy.
// No plaintext is returned on any failure; temporary plaintext buffers are cleansed.
EspInboundResult EspDecapsulate(const SaConfig& sa, ReplayWindow& window, ByteSpan outer_packet);

// The same with the parse step already done (a device model parses, looks the SA up, then calls
// this). `info` must come from ParseEspPacket(outer_packet) and have kind kEsp.
EspInboundResult EspDecapsulateParsed(const SaConfig& sa, ReplayWindow& window,
                                      ByteSpan outer_packet, const EspHeaderInfo& info);

}  // namespace espo::driver
