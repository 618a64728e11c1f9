// SPDX-License-Identifier: Apache-2.0
//
// ESP inbound processing: outer header parsing and classification, then decapsulation in the
// order of SPEC 1.7. See docs/ESP_PROCESSING.md.
#include <algorithm>
#include <string>

#include <openssl/crypto.h>

#include "esp_crypto.hpp"

#include "espo/driver/esp.hpp"
#include "espo/driver/ip_packet.hpp"

namespace espo::driver {
namespace {

using esp_internal::CleansingGuard;

Error Malformed(std::string message) { return Error{Errc::kParse, std::move(message)}; }

EspInboundResult Drop(DropReason reason, std::string detail, std::uint64_t seq = 0) {
  EspInboundResult r;
  r.verdict = InboundVerdict::kDrop;
  r.drop = reason;
  r.seq = seq;
  r.detail = std::move(detail);
  return r;
}

void Wipe(Bytes& buffer) {
  if (!buffer.empty()) OPENSSL_cleanse(buffer.data(), buffer.size());
  buffer.clear();
}

bool SameAddress(const IpAddress& a, const IpAddress& b) {
  return a.v6 == b.v6 && std::equal(a.span().begin(), a.span().end(), b.span().begin());
}

// RFC 1624 incremental checksum update for one changed 16-bit word.
std::uint16_t UpdateChecksum(std::uint16_t checksum, std::uint16_t old_word,
                             std::uint16_t new_word) {
  std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  while ((sum >> 16U) != 0) sum = (sum & 0xFFFFU) + (sum >> 16U);
  return static_cast<std::uint16_t>(~sum);
}

// Tunnel mode: applies RFC 6040 decapsulation to the inner header in place (SPEC 4.3). Returns
// false when the combination must be dropped (outer CE over a Not-ECT inner packet).
bool ApplyEcn(Bytes& inner, std::uint8_t outer_traffic_class) {
  const bool v4 = (inner[0] >> 4U) == 4;
  const std::uint8_t tc =
      v4 ? inner[1] : static_cast<std::uint8_t>(((inner[0] & 0x0FU) << 4U) | (inner[1] >> 4U));
  const auto ecn = DecapsulatedEcn(tc & 3U, outer_traffic_class & 3U);
  if (!ecn) return false;
  if (*ecn == (tc & 3U)) return true;
  const auto new_tc = static_cast<std::uint8_t>((tc & 0xFCU) | *ecn);
  if (v4) {
    const std::uint16_t old_word = LoadBe16(inner);
    inner[1] = new_tc;
    const std::uint16_t checksum = LoadBe16(ByteSpan(inner).subspan(10));
    StoreBe16(MutableByteSpan(inner).subspan(10),
              UpdateChecksum(checksum, old_word, LoadBe16(inner)));
  } else {
    inner[0] = static_cast<std::uint8_t>(0x60U | (new_tc >> 4U));
    inner[1] = static_cast<std::uint8_t>((inner[1] & 0x0FU) | ((new_tc & 0x0FU) << 4U));
  }
  return true;
}

}  // namespace

Result<EspHeaderInfo> ParseEspPacket(ByteSpan outer_packet, const EspParseOptions& opt) {
  ESPO_ASSIGN_OR_RETURN(const IpHeaderInfo ip, ParseIpHeader(outer_packet));
  const ByteSpan pkt = outer_packet.first(ip.total_bytes);
  EspHeaderInfo info;
  info.ip_version = ip.version;
  info.src = ip.src;
  info.dst = ip.dst;
  info.packet_bytes = ip.total_bytes;
  std::size_t offset = 0;
  std::uint8_t protocol = 0;
  if (ip.version == 4) {
    if (!VerifyIpv4HeaderChecksum(pkt.first(ip.header_bytes))) {
      return tl::unexpected(Malformed("ESP inbound: bad IPv4 header checksum"));
    }
    if (ip.ipv4_fragment) {
      return tl::unexpected(Malformed("ESP inbound: IPv4 fragment (reassemble first)"));
    }
    offset = ip.header_bytes;
    protocol = ip.protocol;
    info.next_header_field = 9;
  } else {
    ESPO_ASSIGN_OR_RETURN(const Ipv6Chain chain, WalkIpv6Chain(pkt));
    if (chain.has_fragment) {
      return tl::unexpected(Malformed("ESP inbound: IPv6 fragment (reassemble first)"));
    }
    offset = chain.upper_offset;
    protocol = chain.upper_protocol;
    info.next_header_field = chain.next_header_field;
  }
  if (protocol == kIpProtoUdp) {
    if (pkt.size() < offset + kUdpHeaderBytes) {
      return tl::unexpected(Malformed("ESP inbound: truncated UDP header"));
    }
    const ByteSpan udp = pkt.subspan(offset);
    info.udp_encap = true;
    info.udp_sport = LoadBe16(udp);
    info.udp_dport = LoadBe16(udp.subspan(2));
    const std::size_t udp_length = LoadBe16(udp.subspan(4));
    if (udp_length != udp.size()) {
      return tl::unexpected(Malformed("ESP inbound: UDP length " + std::to_string(udp_length) +
                                      " != " + std::to_string(udp.size()) + " bytes after IP"));
    }
    const std::uint16_t checksum = LoadBe16(udp.subspan(6));
    if (checksum != 0 && UdpChecksum(ip.src, ip.dst, udp) != checksum) {
      return tl::unexpected(Malformed("ESP inbound: bad UDP checksum"));
    }
    offset += kUdpHeaderBytes;
    const ByteSpan payload = pkt.subspan(offset);
    info.esp_offset = offset;
    info.esp_bytes = payload.size();
    if (!opt.any_udp_port && info.udp_dport != opt.udp_port) {
      info.kind = PacketKind::kNotEsp;
      info.not_esp = NotEspKind::kOtherUdp;
      return info;
    }
    if (payload.size() == 1 && payload[0] == 0xFF) {
      info.kind = PacketKind::kNotEsp;
      info.not_esp = NotEspKind::kNatKeepalive;
      return info;
    }
    if (payload.size() >= 4 && LoadBe32(payload) == 0) {
      info.kind = PacketKind::kNotEsp;
      info.not_esp = NotEspKind::kIke;
      return info;
    }
  } else if (protocol == kIpProtoEsp) {
    info.esp_offset = offset;
    info.esp_bytes = pkt.size() - offset;
  } else {
    return tl::unexpected(Malformed("ESP inbound: protocol " + std::to_string(protocol) +
                                    " is neither ESP (50) nor UDP (17)"));
  }
  if (info.esp_bytes < kEspHeaderBytes) {
    return tl::unexpected(Malformed("ESP inbound: " + std::to_string(info.esp_bytes) +
                                    " ESP bytes, need at least 8"));
  }
  const ByteSpan esp = pkt.subspan(info.esp_offset);
  info.spi = LoadBe32(esp);
  info.seq_low = LoadBe32(esp.subspan(4));
  if (info.spi == 0) return tl::unexpected(Malformed("ESP inbound: SPI 0"));
  return info;
}

EspInboundResult EspDecapsulate(const SaConfig& sa, ReplayWindow& window, ByteSpan outer_packet) {
  EspParseOptions opt;
  if (sa.encap) opt.udp_port = sa.encap->dport;
  auto info = ParseEspPacket(outer_packet, opt);
  if (!info) return Drop(DropReason::kMalformed, info.error().message);
  if (info->kind != PacketKind::kEsp) {
    EspInboundResult r;
    r.verdict = InboundVerdict::kNotEsp;
    r.detail = "not ESP: handed to software";
    return r;
  }
  return EspDecapsulateParsed(sa, window, outer_packet, *info);
}

EspInboundResult EspDecapsulateParsed(const SaConfig& sa, ReplayWindow& window,
                                      ByteSpan outer_packet, const EspHeaderInfo& info) {
  // SA match (the caller's lookup is authoritative; this guards against a wrong SA).
  if (info.kind != PacketKind::kEsp) return Drop(DropReason::kMalformed, "not an ESP packet");
  if (sa.dir != Direction::kIn || sa.spi != info.spi || !SameAddress(sa.dst, info.dst) ||
      sa.encap.has_value() != info.udp_encap) {
    return Drop(DropReason::kNoSa, "SPI, destination or UDP encapsulation does not match the SA");
  }
  if (sa.key.key_bytes() != 16 && sa.key.key_bytes() != 32) {
    return Drop(DropReason::kNoSa, "SA has no AES-128/256 key");
  }
  if (window.esn() != sa.esn) return Drop(DropReason::kNoSa, "replay window ESN mode differs");
  const std::size_t icv_bytes = sa.alg == Algorithm::kGmac ? 16U : sa.icv_bytes;
  if (icv_bytes != 8 && icv_bytes != 12 && icv_bytes != 16) {
    return Drop(DropReason::kNoSa, "SA has an invalid ICV length");
  }

  // Length sanity (SPEC 1.7 step 3): SPI, seq, IV, trailer, ICV.
  const ByteSpan pkt = outer_packet.first(info.packet_bytes);
  const ByteSpan esp = pkt.subspan(info.esp_offset, info.esp_bytes);
  if (esp.size() < kEspHeaderBytes + kEspIvBytes + kEspTrailerBytes + icv_bytes) {
    return Drop(DropReason::kMalformed,
                "ESP packet of " + std::to_string(esp.size()) + " bytes is shorter than " +
                    std::to_string(kEspHeaderBytes + kEspIvBytes + kEspTrailerBytes + icv_bytes));
  }

  // Steps 5-6: sequence number (ESN inference), replay pre-check without state change.
  const std::uint64_t seq = window.InferEsn(info.seq_low);
  if (!window.Check(seq)) return Drop(DropReason::kReplay, "replayed or too old", seq);

  // Step 7: ICV verify; the AAD carries the inferred high half.
  const ByteSpan iv = esp.subspan(kEspHeaderBytes, kEspIvBytes);
  const esp_internal::EspAad aad = esp_internal::MakeAad(sa.spi, seq, sa.esn);
  auto opened = esp_internal::OpenEspBody(sa, aad, iv, esp.subspan(kEspHeaderBytes + kEspIvBytes));
  if (!opened) {
    const DropReason reason =
        opened.error().code == Errc::kAuth ? DropReason::kAuth : DropReason::kMalformed;
    return Drop(reason, opened.error().message, seq);
  }
  Bytes plaintext = std::move(*opened);
  CleansingGuard guard(plaintext);

  // Step 8: trailer checks (SPEC 1.3: Pad Length possible, pad bytes 1, 2, 3, ...).
  const std::size_t span = plaintext.size();
  const std::size_t pad = plaintext[span - 2];
  const std::uint8_t next_header = plaintext[span - 1];
  if (pad + kEspTrailerBytes > span) {
    return Drop(
        DropReason::kMalformed,
        "Pad Length " + std::to_string(pad) + " exceeds the " + std::to_string(span) + "-byte span",
        seq);
  }
  const std::size_t payload_bytes = span - kEspTrailerBytes - pad;
  for (std::size_t i = 0; i < pad; ++i) {
    if (plaintext[payload_bytes + i] != static_cast<std::uint8_t>(i + 1)) {
      return Drop(DropReason::kMalformed, "pad byte " + std::to_string(i + 1) + " is wrong", seq);
    }
  }
  const ByteSpan payload = ByteSpan(plaintext).first(payload_bytes);

  EspInboundResult result;
  result.seq = seq;
  result.counted_bytes = span;
  result.encap_port_changed = sa.encap.has_value() && info.udp_sport != sa.encap->sport;
  if (next_header == kNextHeaderDummy) {
    result.verdict = InboundVerdict::kDiscardDummy;
    result.detail = "dummy packet (Next Header 59)";
  } else if (sa.mode == Mode::kTunnel) {
    if (next_header != kIpProtoIpv4 && next_header != kIpProtoIpv6) {
      return Drop(DropReason::kMalformed,
                  "tunnel mode: Next Header " + std::to_string(next_header) + " is not 4 or 41",
                  seq);
    }
    auto inner = ParseIpHeader(payload);
    if (!inner) return Drop(DropReason::kMalformed, "inner " + inner.error().message, seq);
    if ((inner->version == 4) != (next_header == kIpProtoIpv4)) {
      return Drop(DropReason::kMalformed, "inner IP version disagrees with Next Header", seq);
    }
    // Bytes after the inner packet are TFC padding and are removed.
    result.packet.assign(payload.begin(),
                         payload.begin() + static_cast<std::ptrdiff_t>(inner->total_bytes));
    const std::uint8_t outer_tc =
        (pkt[0] >> 4U) == 4 ? pkt[1] : static_cast<std::uint8_t>((LoadBe32(pkt) >> 20U) & 0xFFU);
    if (!ApplyEcn(result.packet, outer_tc)) {
      Wipe(result.packet);
      return Drop(DropReason::kMalformed, "outer CE over a Not-ECT inner packet (RFC 6040)", seq);
    }
  } else {
    // Transport: the IP header (and IPv6 extension headers) in front of ESP, minus the UDP header.
    const std::size_t header_bytes = info.esp_offset - (info.udp_encap ? kUdpHeaderBytes : 0U);
    const std::size_t total = header_bytes + payload.size();
    result.packet.reserve(total);
    result.packet.assign(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(header_bytes));
    result.packet.insert(result.packet.end(), payload.begin(), payload.end());
    result.packet[info.next_header_field] = next_header;
    if (info.ip_version == 4) {
      const std::size_t ihl = static_cast<std::size_t>(result.packet[0] & 0x0FU) * 4U;
      StoreBe16(MutableByteSpan(result.packet).subspan(2), static_cast<std::uint16_t>(total));
      SetIpv4HeaderChecksum(MutableByteSpan(result.packet).first(ihl));
    } else {
      StoreBe16(MutableByteSpan(result.packet).subspan(4),
                static_cast<std::uint16_t>(total - kIpv6HeaderBytes));
    }
  }

  // Step 9: commit. Re-check (another copy may have been accepted meanwhile), then update.
  if (!window.Check(seq)) {
    Wipe(result.packet);
    return Drop(DropReason::kReplay, "replayed (re-check at commit)", seq);
  }
  window.Update(seq);
  if (result.verdict != InboundVerdict::kDiscardDummy) result.verdict = InboundVerdict::kAccept;
  return result;
}

}  // namespace espo::driver
