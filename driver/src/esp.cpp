// SPDX-License-Identifier: Apache-2.0
//
// ESP outbound processing and the shared AES-GCM / AES-GMAC body computations.
#include "espo/driver/esp.hpp"

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "esp_crypto.hpp"

#include "espo/driver/gcm_reference.hpp"
#include "espo/driver/ip_packet.hpp"

namespace espo::driver {
namespace esp_internal {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// AES-CTR keystream starting at inc32(J0) = nonce || 00 00 00 02: GCM's encryption without GHASH.
Result<Bytes> GcmCtr(ByteSpan key, ByteSpan nonce, ByteSpan in) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = EVP_aes_128_ctr();
      break;
    case 32:
      cipher = EVP_aes_256_ctr();
      break;
    default:
      return MakeError(Errc::kInvalidArgument,
                       "ESP key: expected 16 or 32 bytes, got " + std::to_string(key.size()));
  }
  if (in.size() > static_cast<std::size_t>(INT_MAX)) {
    return MakeError(Errc::kInvalidArgument, "ESP: body longer than INT_MAX");
  }
  std::array<std::uint8_t, 16> counter{};
  std::copy(nonce.begin(), nonce.end(), counter.begin());
  counter[15] = 2;
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return MakeError(Errc::kCrypto, "EVP_CIPHER_CTX_new failed");
  Bytes out(in.size());
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), counter.data()) != 1 ||
      (!in.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &len, in.data(),
                                        static_cast<int>(in.size())) != 1)) {
    OPENSSL_cleanse(out.data(), out.size());
    return MakeError(Errc::kCrypto, "AES-CTR: EVP encryption failed");
  }
  return out;
}

Bytes GmacAad(const EspAad& aad, ByteSpan iv, ByteSpan span) {
  Bytes all;
  all.reserve(aad.size + iv.size() + span.size());
  all.insert(all.end(), aad.span().begin(), aad.span().end());
  all.insert(all.end(), iv.begin(), iv.end());
  all.insert(all.end(), span.begin(), span.end());
  return all;
}

}  // namespace

CleansingGuard::~CleansingGuard() {
  if (!buffer_.empty()) OPENSSL_cleanse(buffer_.data(), buffer_.size());
}

EspAad MakeAad(std::uint32_t spi, std::uint64_t seq, bool esn) {
  EspAad aad;
  const MutableByteSpan out(aad.bytes);
  StoreBe32(out, spi);
  if (esn) {
    StoreBe32(out.subspan(4), static_cast<std::uint32_t>(seq >> 32U));
    StoreBe32(out.subspan(8), static_cast<std::uint32_t>(seq));
    aad.size = 12;
  } else {
    StoreBe32(out.subspan(4), static_cast<std::uint32_t>(seq));
    aad.size = 8;
  }
  return aad;
}

std::array<std::uint8_t, kGcmIvBytes> MakeNonce(ByteSpan salt, ByteSpan iv) {
  std::array<std::uint8_t, kGcmIvBytes> nonce{};
  // Short inputs leave zeros (callers pass 4 and 8 bytes; this only keeps the API memory-safe).
  std::copy_n(salt.begin(), std::min<std::size_t>(salt.size(), 4), nonce.begin());
  std::copy_n(iv.begin(), std::min<std::size_t>(iv.size(), 8), nonce.begin() + 4);
  return nonce;
}

Result<Bytes> SealEspBody(const SaConfig& sa, const EspAad& aad, ByteSpan iv, ByteSpan plaintext) {
  const auto nonce = MakeNonce(sa.key.salt(), iv);
  Bytes body;
  if (sa.alg == Algorithm::kGmac) {
    Bytes auth = GmacAad(aad, iv, plaintext);
    ESPO_ASSIGN_OR_RETURN(const GcmSealed sealed, GcmSeal(sa.key.key(), nonce, auth, {}));
    body.reserve(plaintext.size() + kGcmTagBytes);
    body.insert(body.end(), plaintext.begin(), plaintext.end());
    body.insert(body.end(), sealed.tag.begin(), sealed.tag.end());
    return body;
  }
  ESPO_ASSIGN_OR_RETURN(GcmSealed sealed, GcmSeal(sa.key.key(), nonce, aad.span(), plaintext));
  body = std::move(sealed.ciphertext);
  body.insert(body.end(), sealed.tag.begin(), sealed.tag.begin() + sa.icv_bytes);
  return body;
}

Result<Bytes> OpenEspBody(const SaConfig& sa, const EspAad& aad, ByteSpan iv, ByteSpan body) {
  const std::size_t icv_bytes = sa.alg == Algorithm::kGmac ? kGcmTagBytes : sa.icv_bytes;
  if (body.size() < icv_bytes) return MakeError(Errc::kInternal, "ESP body shorter than the ICV");
  const ByteSpan text = body.first(body.size() - icv_bytes);
  const ByteSpan icv = body.last(icv_bytes);
  const auto nonce = MakeNonce(sa.key.salt(), iv);
  if (sa.alg == Algorithm::kGmac) {
    const Bytes auth = GmacAad(aad, iv, text);
    ESPO_ASSIGN_OR_RETURN(const GcmSealed sealed, GcmSeal(sa.key.key(), nonce, auth, {}));
    if (CRYPTO_memcmp(sealed.tag.data(), icv.data(), icv_bytes) != 0) {
      return MakeError(Errc::kAuth, "ESP: GMAC ICV mismatch");
    }
    return Bytes(text.begin(), text.end());
  }
  // Decrypt into a private buffer, recompute the tag from the result (GCM's tag depends only on
  // the ciphertext, which re-encryption reproduces) and compare the first k bytes in constant time.
  ESPO_ASSIGN_OR_RETURN(Bytes plaintext, GcmCtr(sa.key.key(), nonce, text));
  CleansingGuard guard(plaintext);
  ESPO_ASSIGN_OR_RETURN(const GcmSealed sealed,
                        GcmSeal(sa.key.key(), nonce, aad.span(), plaintext));
  if (CRYPTO_memcmp(sealed.tag.data(), icv.data(), icv_bytes) != 0) {
    return MakeError(Errc::kAuth, "ESP: GCM ICV mismatch");
  }
  Bytes out = plaintext;  // the guard wipes the working copy
  return out;
}

}  // namespace esp_internal

namespace {

using esp_internal::CleansingGuard;

Error Invalid(std::string message) { return Error{Errc::kInvalidArgument, std::move(message)}; }
Error Malformed(std::string message) { return Error{Errc::kParse, std::move(message)}; }

Status CheckOutboundSa(const SaConfig& sa, std::uint64_t seq) {
  if (sa.dir != Direction::kOut)
    return tl::unexpected(Invalid("ESP encapsulate: SA is not outbound"));
  if (sa.spi == 0) return tl::unexpected(Invalid("ESP encapsulate: SPI 0 is reserved"));
  if (sa.key.key_bytes() != 16 && sa.key.key_bytes() != 32) {
    return tl::unexpected(Invalid("ESP encapsulate: key must be AES-128 or AES-256, got " +
                                  std::to_string(sa.key.key_bytes()) + " bytes"));
  }
  if (sa.icv_bytes != 8 && sa.icv_bytes != 12 && sa.icv_bytes != 16) {
    return tl::unexpected(Invalid("ESP encapsulate: ICV must be 8, 12 or 16 bytes, got " +
                                  std::to_string(sa.icv_bytes)));
  }
  if (sa.alg == Algorithm::kGmac && sa.icv_bytes != 16) {
    return tl::unexpected(Invalid("ESP encapsulate: GMAC (RFC 4543) requires a 16-byte ICV"));
  }
  if (sa.src.v6 != sa.dst.v6) {
    return tl::unexpected(Invalid("ESP encapsulate: SA source and destination families differ"));
  }
  if (seq == 0) return tl::unexpected(Invalid("ESP encapsulate: sequence number 0 is never sent"));
  if (!sa.esn && seq > 0xFFFFFFFFULL) {
    return tl::unexpected(Invalid("ESP encapsulate: sequence number " + std::to_string(seq) +
                                  " exceeds 2^32 - 1 without ESN"));
  }
  return Ok();
}

}  // namespace

std::string_view ToString(DropReason reason) {
  switch (reason) {
    case DropReason::kAuth:
      return "auth";
    case DropReason::kReplay:
      return "replay";
    case DropReason::kNoSa:
      return "no_sa";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kLifetime:
      return "lifetime";
  }
  return "unknown";
}

Bytes EspAad(std::uint32_t spi, std::uint64_t seq, bool esn) {
  const esp_internal::EspAad aad = esp_internal::MakeAad(spi, seq, esn);
  Bytes out(aad.span().begin(), aad.span().end());
  return out;
}

std::array<std::uint8_t, 12> EspNonce(ByteSpan salt, ByteSpan iv) {
  return esp_internal::MakeNonce(salt, iv);
}

std::size_t EspPadBytes(std::size_t payload_bytes) {
  return (4U - ((payload_bytes + 2U) % 4U)) % 4U;
}

std::size_t EspCountedBytes(std::size_t payload_bytes) {
  return payload_bytes + EspPadBytes(payload_bytes) + kEspTrailerBytes;
}

Result<Bytes> EspEncapsulate(const SaConfig& sa, std::uint64_t seq, ByteSpan inner_ip_packet,
                             const OutboundOptions& opt) {
  ESPO_RETURN_IF_ERROR(CheckOutboundSa(sa, seq));
  ESPO_ASSIGN_OR_RETURN(const IpHeaderInfo ip, ParseIpHeader(inner_ip_packet));
  const ByteSpan packet = inner_ip_packet.first(ip.total_bytes);

  // Split into the part that stays in front of ESP (transport) and the protected payload.
  std::size_t header_bytes = 0;
  std::uint8_t next_header = 0;
  std::size_t next_header_field = 0;
  if (sa.mode == Mode::kTunnel) {
    next_header = ip.version == 4 ? kIpProtoIpv4 : kIpProtoIpv6;
  } else {
    if ((ip.version == 6) != sa.dst.v6) {
      return tl::unexpected(Malformed("ESP transport: IPv" + std::to_string(ip.version) +
                                      " packet on an IPv" + (sa.dst.v6 ? "6" : "4") + " SA"));
    }
    if (ip.version == 4) {
      if (ip.ipv4_fragment) {
        return tl::unexpected(Malformed("ESP transport: the IPv4 packet is a fragment"));
      }
      header_bytes = ip.header_bytes;
      next_header = ip.protocol;
      next_header_field = 9;
    } else {
      ESPO_ASSIGN_OR_RETURN(const Ipv6Chain chain, WalkIpv6Chain(packet));
      if (chain.has_fragment) {
        return tl::unexpected(Malformed("ESP transport: the IPv6 packet is a fragment"));
      }
      ESPO_ASSIGN_OR_RETURN(const Ipv6InsertPoint point, FindIpv6EspInsertPoint(packet));
      header_bytes = point.offset;
      next_header = point.next_header;
      next_header_field = point.next_header_field;
    }
    if (next_header == kIpProtoEsp) {
      return tl::unexpected(Malformed("ESP transport: the packet is already ESP"));
    }
  }
  const ByteSpan payload = packet.subspan(header_bytes);

  // payload || padding 1..p || Pad Length || Next Header
  const std::size_t pad = EspPadBytes(payload.size());
  Bytes plaintext;
  CleansingGuard guard(plaintext);
  plaintext.reserve(payload.size() + pad + kEspTrailerBytes);
  plaintext.insert(plaintext.end(), payload.begin(), payload.end());
  for (std::size_t i = 1; i <= pad; ++i) plaintext.push_back(static_cast<std::uint8_t>(i));
  plaintext.push_back(static_cast<std::uint8_t>(pad));
  plaintext.push_back(next_header);

  std::array<std::uint8_t, kEspIvBytes> iv{};
  StoreBe64(iv, seq);  // SPEC 12.2 (1): IV = the 64-bit counter, big-endian
  const esp_internal::EspAad aad = esp_internal::MakeAad(sa.spi, seq, sa.esn);
  ESPO_ASSIGN_OR_RETURN(const Bytes body, esp_internal::SealEspBody(sa, aad, iv, plaintext));

  const bool udp = sa.encap.has_value();
  const std::size_t udp_bytes = udp ? kUdpHeaderBytes : 0;
  const std::size_t esp_bytes = kEspHeaderBytes + kEspIvBytes + body.size();
  Bytes out;
  if (sa.mode == Mode::kTunnel) {
    OuterHeaderParams outer;
    outer.src = sa.src;
    outer.dst = sa.dst;
    outer.protocol = udp ? kIpProtoUdp : kIpProtoEsp;
    outer.traffic_class = ip.traffic_class;  // DSCP and ECN copied (RFC 6040 normal mode)
    outer.df = ip.version == 4 ? ip.df : true;
    outer.ttl = kDefaultTtl;
    outer.ipv4_id = opt.ipv4_id;
    outer.flow_label = 0;
    outer.payload_bytes = udp_bytes + esp_bytes;
    ESPO_ASSIGN_OR_RETURN(out, BuildOuterHeader(outer));
  } else {
    out.assign(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(header_bytes));
    const std::size_t total = header_bytes + udp_bytes + esp_bytes;
    if (total > 0xFFFFU + (ip.version == 6 ? kIpv6HeaderBytes : 0U)) {
      return tl::unexpected(Invalid("ESP transport: result of " + std::to_string(total) +
                                    " bytes does not fit the IP length field"));
    }
    out[next_header_field] = udp ? kIpProtoUdp : kIpProtoEsp;
    if (ip.version == 4) {
      StoreBe16(MutableByteSpan(out).subspan(2), static_cast<std::uint16_t>(total));
      SetIpv4HeaderChecksum(MutableByteSpan(out).first(header_bytes));
    } else {
      StoreBe16(MutableByteSpan(out).subspan(4),
                static_cast<std::uint16_t>(total - kIpv6HeaderBytes));
    }
  }
  const std::size_t ip_header_bytes = out.size();
  if (udp) {
    if (udp_bytes + esp_bytes > 0xFFFFU) {
      return tl::unexpected(Invalid("ESP-in-UDP: datagram too long for the UDP length field"));
    }
    out.resize(out.size() + kUdpHeaderBytes);
    WriteUdpHeader(MutableByteSpan(out).subspan(ip_header_bytes), sa.encap->sport, sa.encap->dport,
                   static_cast<std::uint16_t>(udp_bytes + esp_bytes));
  }
  const std::size_t esp_offset = out.size();
  out.resize(esp_offset + kEspHeaderBytes + kEspIvBytes);
  StoreBe32(MutableByteSpan(out).subspan(esp_offset), sa.spi);
  StoreBe32(MutableByteSpan(out).subspan(esp_offset + 4), static_cast<std::uint32_t>(seq));
  std::copy(iv.begin(), iv.end(), out.begin() + static_cast<std::ptrdiff_t>(esp_offset + 8));
  out.insert(out.end(), body.begin(), body.end());
  if (udp && sa.dst.v6) {
    // RFC 3948 speaks only of IPv4 (checksum 0); espo computes a real IPv6 UDP checksum (SPEC 5.1).
    const ByteSpan segment = ByteSpan(out).subspan(ip_header_bytes);
    IpAddress src;
    IpAddress dst;
    ESPO_ASSIGN_OR_RETURN(const IpHeaderInfo outer_ip, ParseIpHeader(out));
    src = outer_ip.src;
    dst = outer_ip.dst;
    StoreBe16(MutableByteSpan(out).subspan(ip_header_bytes + 6), UdpChecksum(src, dst, segment));
  }
  return out;
}

}  // namespace espo::driver
