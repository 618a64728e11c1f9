// SPDX-License-Identifier: Apache-2.0
//
// IP helpers for ESP processing: IPv4/IPv6 header parsing, the Internet checksum, outer header
// and UDP header construction (RFC 3948), IPv6 extension header walking, ECN (RFC 6040).
// Pure functions on byte spans; thread-safe (no state). Field semantics: SPEC sections 4 and 5.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

// IP protocol / IPv6 Next Header numbers used by ESP processing.
inline constexpr std::uint8_t kIpProtoHopByHop = 0;
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIpv4 = 4;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIpv6 = 41;
inline constexpr std::uint8_t kIpProtoRouting = 43;
inline constexpr std::uint8_t kIpProtoFragment = 44;
inline constexpr std::uint8_t kIpProtoEsp = 50;
inline constexpr std::uint8_t kIpProtoAh = 51;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpProtoNoNext = 59;
inline constexpr std::uint8_t kIpProtoDestOpts = 60;

inline constexpr std::size_t kIpv4MinHeaderBytes = 20;
inline constexpr std::size_t kIpv6HeaderBytes = 40;
inline constexpr std::size_t kUdpHeaderBytes = 8;
inline constexpr std::uint16_t kNatTraversalPort = 4500;  // RFC 3948
inline constexpr std::uint8_t kDefaultTtl = 64;           // SPEC 12.3

// ECN codepoints (RFC 3168): the two low bits of the TOS / Traffic Class byte.
inline constexpr std::uint8_t kEcnNotEct = 0;
inline constexpr std::uint8_t kEcnEct1 = 1;
inline constexpr std::uint8_t kEcnEct0 = 2;
inline constexpr std::uint8_t kEcnCe = 3;

// The fixed part of an IPv4 or IPv6 header, as found at the start of a packet.
struct IpHeaderInfo {
  std::uint8_t version = 0;      // 4 or 6
  std::size_t header_bytes = 0;  // IPv4: IHL * 4 (options included); IPv6: 40 (base header)
  std::size_t total_bytes = 0;   // IPv4: Total Length; IPv6: 40 + Payload Length
  std::uint8_t protocol = 0;     // IPv4 Protocol; IPv6 base header Next Header
  IpAddress src;
  IpAddress dst;
  std::uint8_t traffic_class = 0;  // IPv4 TOS byte / IPv6 Traffic Class: DSCP << 2 | ECN
  std::uint8_t ttl = 0;            // TTL / Hop Limit
  std::uint16_t ipv4_id = 0;       // IPv4 only
  bool df = false;                 // IPv4 only: Don't Fragment
  bool ipv4_fragment = false;      // IPv4 only: MF set or fragment offset != 0
  std::uint32_t flow_label = 0;    // IPv6 only

  std::uint8_t dscp() const { return static_cast<std::uint8_t>(traffic_class >> 2U); }
  std::uint8_t ecn() const { return static_cast<std::uint8_t>(traffic_class & 3U); }
};

// Parses the header at the start of `packet`. Errors (Errc::kParse) for an empty buffer, a version
// other than 4/6, IHL < 5, a header or length field that does not fit in the buffer, or an IPv4
// total length below the header length. Bytes after the length field's end are allowed (link
// padding); callers use `total_bytes`. The IPv4 checksum is not checked here.
Result<IpHeaderInfo> ParseIpHeader(ByteSpan packet);

// RFC 1071 one's-complement sum of `data` (odd length padded with a zero byte), folded to 16 bits
// and not inverted. `initial` carries a partial sum (e.g. a pseudo header).
std::uint32_t OnesComplementSum(ByteSpan data, std::uint32_t initial = 0);
// The IPv4 header checksum of `header` (IHL * 4 bytes) as it must be stored, computed with the
// checksum field taken as zero.
std::uint16_t Ipv4HeaderChecksum(ByteSpan header);
// Writes Ipv4HeaderChecksum into bytes 10..11 of `header`.
void SetIpv4HeaderChecksum(MutableByteSpan header);
// True when the stored checksum of `header` (IHL * 4 bytes) is right.
bool VerifyIpv4HeaderChecksum(ByteSpan header);

// An outer (tunnel) header. SPEC 4.1 / 12.3 defaults: TTL 64, flow label 0, DSCP and ECN copied
// from the inner header (normal mode, RFC 6040), DF copied from an IPv4 inner header and set for
// an IPv6 inner header, Identification from the caller.
struct OuterHeaderParams {
  IpAddress src;
  IpAddress dst;
  std::uint8_t protocol = kIpProtoEsp;  // 50, or 17 with UDP encapsulation
  std::uint8_t traffic_class = 0;
  bool df = false;  // IPv4 only
  std::uint8_t ttl = kDefaultTtl;
  std::uint16_t ipv4_id = 0;      // IPv4 only
  std::uint32_t flow_label = 0;   // IPv6 only (20 bits)
  std::size_t payload_bytes = 0;  // everything after the outer header
};
// 20 bytes (IPv4, checksum filled) or 40 bytes (IPv6). Errors when src/dst families differ or the
// total length does not fit the 16-bit length field.
Result<Bytes> BuildOuterHeader(const OuterHeaderParams& params);

// Writes an 8-byte UDP header into `out` (length = 8 + payload, checksum 0).
void WriteUdpHeader(MutableByteSpan out, std::uint16_t sport, std::uint16_t dport,
                    std::uint16_t length);
// The UDP checksum over the pseudo header (src, dst, 17, length) and `udp_segment` (UDP header
// with its checksum field taken as zero, then payload), as it must be stored: 0 maps to 0xFFFF.
std::uint16_t UdpChecksum(const IpAddress& src, const IpAddress& dst, ByteSpan udp_segment);

// One IPv6 extension header of a chain.
struct Ipv6ExtHeader {
  std::uint8_t type = 0;   // kIpProtoHopByHop, kIpProtoRouting, kIpProtoDestOpts, ...
  std::size_t offset = 0;  // from the start of the packet
  std::size_t length = 0;  // bytes
};

// The IPv6 header chain: base header, then extension headers up to the first header that is not
// Hop-by-Hop, Routing, Fragment or Destination Options (typically ESP, TCP, UDP, ICMPv6).
struct Ipv6Chain {
  std::vector<Ipv6ExtHeader> ext;  // in packet order
  std::size_t upper_offset = 0;    // where the first non-extension header starts
  std::uint8_t upper_protocol = 0;
  bool has_fragment = false;  // a Fragment header is present
  // Offset of the Next Header byte that holds `upper_protocol` (6 for the base header).
  std::size_t next_header_field = 6;
};
// Walks the chain of an IPv6 packet (at most `total_bytes` of it). Errors (kParse) when an
// extension header runs past the payload or the packet is not IPv6.
Result<Ipv6Chain> WalkIpv6Chain(ByteSpan packet);

// Where transport-mode ESP is inserted in an IPv6 packet (SPEC 4.4): after the leading
// Hop-by-Hop and Routing headers, and after a Destination Options header that precedes a Routing
// header (options for intermediate hops). A Destination Options header with no Routing header
// after it stays behind ESP (protected).
struct Ipv6InsertPoint {
  std::size_t offset = 0;             // where ESP goes
  std::size_t next_header_field = 6;  // the Next Header byte that must become 50 (or 17)
  std::uint8_t next_header = 0;       // its current value: the ESP trailer's Next Header
};
Result<Ipv6InsertPoint> FindIpv6EspInsertPoint(ByteSpan packet);

// RFC 6040 decapsulation (SPEC 4.2): the inner ECN field to release for the arriving inner and
// outer ECN fields, or nullopt when the combination must be dropped (outer CE over Not-ECT).
std::optional<std::uint8_t> DecapsulatedEcn(std::uint8_t inner_ecn, std::uint8_t outer_ecn);

}  // namespace espo::driver
