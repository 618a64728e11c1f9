// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/ip_packet.hpp"

#include <algorithm>
#include <string>

namespace espo::driver {
namespace {

Error ParseError(std::string message) { return Error{Errc::kParse, std::move(message)}; }

bool IsIpv6ExtensionHeader(std::uint8_t type) {
  return type == kIpProtoHopByHop || type == kIpProtoRouting || type == kIpProtoFragment ||
         type == kIpProtoDestOpts;
}

std::uint16_t Fold(std::uint32_t sum) {
  while ((sum >> 16U) != 0) sum = (sum & 0xFFFFU) + (sum >> 16U);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

Result<IpHeaderInfo> ParseIpHeader(ByteSpan packet) {
  if (packet.empty()) return tl::unexpected(ParseError("IP packet: empty"));
  IpHeaderInfo info;
  info.version = static_cast<std::uint8_t>(packet[0] >> 4U);
  if (info.version == 4) {
    if (packet.size() < kIpv4MinHeaderBytes) {
      return tl::unexpected(
          ParseError("IPv4 header: " + std::to_string(packet.size()) + " bytes, need at least 20"));
    }
    info.header_bytes = static_cast<std::size_t>(packet[0] & 0x0FU) * 4U;
    if (info.header_bytes < kIpv4MinHeaderBytes) {
      return tl::unexpected(
          ParseError("IPv4 header: IHL " + std::to_string(info.header_bytes / 4) + " below 5"));
    }
    info.total_bytes = LoadBe16(packet.subspan(2));
    if (info.total_bytes < info.header_bytes) {
      return tl::unexpected(ParseError("IPv4 header: total length " +
                                       std::to_string(info.total_bytes) + " below header length " +
                                       std::to_string(info.header_bytes)));
    }
    if (info.total_bytes > packet.size()) {
      return tl::unexpected(ParseError("IPv4 header: total length " +
                                       std::to_string(info.total_bytes) + " exceeds the " +
                                       std::to_string(packet.size()) + "-byte buffer"));
    }
    info.traffic_class = packet[1];
    info.ipv4_id = LoadBe16(packet.subspan(4));
    const std::uint16_t flags_frag = LoadBe16(packet.subspan(6));
    info.df = (flags_frag & 0x4000U) != 0;
    info.ipv4_fragment = (flags_frag & 0x2000U) != 0 || (flags_frag & 0x1FFFU) != 0;
    info.ttl = packet[8];
    info.protocol = packet[9];
    info.src.v6 = false;
    info.dst.v6 = false;
    std::copy_n(packet.begin() + 12, 4, info.src.bytes.begin());
    std::copy_n(packet.begin() + 16, 4, info.dst.bytes.begin());
    return info;
  }
  if (info.version == 6) {
    if (packet.size() < kIpv6HeaderBytes) {
      return tl::unexpected(
          ParseError("IPv6 header: " + std::to_string(packet.size()) + " bytes, need at least 40"));
    }
    info.header_bytes = kIpv6HeaderBytes;
    info.total_bytes = kIpv6HeaderBytes + LoadBe16(packet.subspan(4));
    if (info.total_bytes > packet.size()) {
      return tl::unexpected(ParseError(
          "IPv6 header: payload length " + std::to_string(info.total_bytes - kIpv6HeaderBytes) +
          " exceeds the " + std::to_string(packet.size()) + "-byte buffer"));
    }
    const std::uint32_t word0 = LoadBe32(packet);
    info.traffic_class = static_cast<std::uint8_t>(word0 >> 20U);
    info.flow_label = word0 & 0xFFFFFU;
    info.protocol = packet[6];
    info.ttl = packet[7];
    info.src.v6 = true;
    info.dst.v6 = true;
    std::copy_n(packet.begin() + 8, 16, info.src.bytes.begin());
    std::copy_n(packet.begin() + 24, 16, info.dst.bytes.begin());
    return info;
  }
  return tl::unexpected(
      ParseError("IP header: version " + std::to_string(info.version) + ", expected 4 or 6"));
}

std::uint32_t OnesComplementSum(ByteSpan data, std::uint32_t initial) {
  std::uint64_t sum = initial;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += LoadBe16(data.subspan(i));
  if (i < data.size()) sum += static_cast<std::uint32_t>(data[i]) << 8U;
  while ((sum >> 16U) != 0) sum = (sum & 0xFFFFU) + (sum >> 16U);
  return static_cast<std::uint32_t>(sum);
}

std::uint16_t Ipv4HeaderChecksum(ByteSpan header) {
  // Sum everything but bytes 10..11 (the checksum field).
  std::uint32_t sum = OnesComplementSum(header.first(10));
  sum = OnesComplementSum(header.subspan(12), sum);
  return static_cast<std::uint16_t>(~Fold(sum));
}

void SetIpv4HeaderChecksum(MutableByteSpan header) {
  StoreBe16(header.subspan(10), Ipv4HeaderChecksum(header));
}

bool VerifyIpv4HeaderChecksum(ByteSpan header) {
  return Fold(OnesComplementSum(header)) == 0xFFFFU;
}

Result<Bytes> BuildOuterHeader(const OuterHeaderParams& params) {
  if (params.src.v6 != params.dst.v6) {
    return MakeError(Errc::kInvalidArgument,
                     "outer header: source and destination address families differ");
  }
  if (!params.src.v6) {
    const std::size_t total = kIpv4MinHeaderBytes + params.payload_bytes;
    if (total > 0xFFFFU) {
      return MakeError(Errc::kInvalidArgument,
                       "outer IPv4 header: total length " + std::to_string(total) + " > 65535");
    }
    Bytes h(kIpv4MinHeaderBytes, 0);
    h[0] = 0x45;
    h[1] = params.traffic_class;
    StoreBe16(MutableByteSpan(h).subspan(2), static_cast<std::uint16_t>(total));
    StoreBe16(MutableByteSpan(h).subspan(4), params.ipv4_id);
    StoreBe16(MutableByteSpan(h).subspan(6), params.df ? 0x4000U : 0U);
    h[8] = params.ttl;
    h[9] = params.protocol;
    std::copy_n(params.src.bytes.begin(), 4, h.begin() + 12);
    std::copy_n(params.dst.bytes.begin(), 4, h.begin() + 16);
    SetIpv4HeaderChecksum(h);
    return h;
  }
  if (params.payload_bytes > 0xFFFFU) {
    return MakeError(Errc::kInvalidArgument, "outer IPv6 header: payload length " +
                                                 std::to_string(params.payload_bytes) + " > 65535");
  }
  Bytes h(kIpv6HeaderBytes, 0);
  const std::uint32_t word0 = (6U << 28U) |
                              (static_cast<std::uint32_t>(params.traffic_class) << 20U) |
                              (params.flow_label & 0xFFFFFU);
  StoreBe32(h, word0);
  StoreBe16(MutableByteSpan(h).subspan(4), static_cast<std::uint16_t>(params.payload_bytes));
  h[6] = params.protocol;
  h[7] = params.ttl;
  std::copy_n(params.src.bytes.begin(), 16, h.begin() + 8);
  std::copy_n(params.dst.bytes.begin(), 16, h.begin() + 24);
  return h;
}

void WriteUdpHeader(MutableByteSpan out, std::uint16_t sport, std::uint16_t dport,
                    std::uint16_t length) {
  StoreBe16(out, sport);
  StoreBe16(out.subspan(2), dport);
  StoreBe16(out.subspan(4), length);
  StoreBe16(out.subspan(6), 0);
}

std::uint16_t UdpChecksum(const IpAddress& src, const IpAddress& dst, ByteSpan udp_segment) {
  std::uint32_t sum = OnesComplementSum(src.span());
  sum = OnesComplementSum(dst.span(), sum);
  sum += kIpProtoUdp;
  // IPv4 pseudo header carries a 16-bit length, IPv6 a 32-bit one; the sum is the same.
  sum += static_cast<std::uint32_t>(udp_segment.size() & 0xFFFFU);
  sum += static_cast<std::uint32_t>(udp_segment.size() >> 16U);
  sum = OnesComplementSum(udp_segment.first(std::min<std::size_t>(6, udp_segment.size())), sum);
  if (udp_segment.size() > 8) sum = OnesComplementSum(udp_segment.subspan(8), sum);
  const auto checksum = static_cast<std::uint16_t>(~Fold(sum));
  return checksum == 0 ? 0xFFFFU : checksum;
}

Result<Ipv6Chain> WalkIpv6Chain(ByteSpan packet) {
  ESPO_ASSIGN_OR_RETURN(const IpHeaderInfo ip, ParseIpHeader(packet));
  if (ip.version != 6) return tl::unexpected(ParseError("IPv6 chain: not an IPv6 packet"));
  const ByteSpan pkt = packet.first(ip.total_bytes);
  Ipv6Chain chain;
  std::uint8_t next = ip.protocol;
  std::size_t offset = kIpv6HeaderBytes;
  std::size_t field = 6;
  while (IsIpv6ExtensionHeader(next)) {
    if (chain.ext.size() >= 16) {
      return tl::unexpected(ParseError("IPv6 chain: more than 16 extension headers"));
    }
    if (offset + 8 > pkt.size()) {
      return tl::unexpected(ParseError("IPv6 extension header " + std::to_string(next) +
                                       " at offset " + std::to_string(offset) +
                                       " runs past the payload"));
    }
    const std::size_t length =
        next == kIpProtoFragment ? 8U : (static_cast<std::size_t>(pkt[offset + 1]) + 1U) * 8U;
    if (offset + length > pkt.size()) {
      return tl::unexpected(ParseError("IPv6 extension header " + std::to_string(next) +
                                       " at offset " + std::to_string(offset) + " (" +
                                       std::to_string(length) + " bytes) runs past the payload"));
    }
    if (next == kIpProtoHopByHop && offset != kIpv6HeaderBytes) {
      return tl::unexpected(ParseError("IPv6 chain: Hop-by-Hop header not first"));
    }
    if (next == kIpProtoFragment) chain.has_fragment = true;
    chain.ext.push_back(Ipv6ExtHeader{next, offset, length});
    field = offset;
    next = pkt[offset];
    offset += length;
  }
  chain.upper_offset = offset;
  chain.upper_protocol = next;
  chain.next_header_field = field;
  return chain;
}

Result<Ipv6InsertPoint> FindIpv6EspInsertPoint(ByteSpan packet) {
  ESPO_ASSIGN_OR_RETURN(const Ipv6Chain chain, WalkIpv6Chain(packet));
  Ipv6InsertPoint point;
  point.offset = kIpv6HeaderBytes;
  point.next_header_field = 6;
  point.next_header = packet[6];
  for (std::size_t i = 0; i < chain.ext.size(); ++i) {
    const Ipv6ExtHeader& h = chain.ext[i];
    bool skip = h.type == kIpProtoHopByHop || h.type == kIpProtoRouting;
    if (h.type == kIpProtoDestOpts) {
      // Options for intermediate destinations precede a Routing header (RFC 8200 4.1).
      skip = std::any_of(chain.ext.begin() + static_cast<std::ptrdiff_t>(i) + 1, chain.ext.end(),
                         [](const Ipv6ExtHeader& e) { return e.type == kIpProtoRouting; });
    }
    if (!skip) break;
    point.offset = h.offset + h.length;
    point.next_header_field = h.offset;
    point.next_header = packet[h.offset];
  }
  return point;
}

std::optional<std::uint8_t> DecapsulatedEcn(std::uint8_t inner_ecn, std::uint8_t outer_ecn) {
  inner_ecn &= 3U;
  outer_ecn &= 3U;
  if (inner_ecn == kEcnNotEct) {
    if (outer_ecn == kEcnCe) return std::nullopt;
    return kEcnNotEct;
  }
  if (outer_ecn == kEcnCe) return kEcnCe;
  if (inner_ecn == kEcnEct0 && outer_ecn == kEcnEct1) return kEcnEct1;
  return inner_ecn;
}

}  // namespace espo::driver
