// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/sa_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace espo::driver {
namespace {

constexpr std::uint64_t kMaxSeq32 = 0xFFFFFFFFULL;          // last usable 32-bit sequence number
constexpr std::uint64_t kMaxSeq64 = 0xFFFFFFFFFFFFFFFFULL;  // last usable 64-bit sequence number
constexpr std::uint32_t kMaxReplayWindow = 1024;            // hardware REPLAY_BITS (SPEC 1.8)
// Longest textual address we hand to inet_pton ("ffff:...:255.255.255.255" is 45 chars).
constexpr std::size_t kMaxAddressText = 64;

Status InvalidArgument(std::string message) {
  return MakeError(Errc::kInvalidArgument, std::move(message));
}

}  // namespace

std::string_view ToString(Direction dir) {
  switch (dir) {
    case Direction::kOut:
      return "out";
    case Direction::kIn:
      return "in";
  }
  return "invalid-direction";
}

std::string_view ToString(Mode mode) {
  switch (mode) {
    case Mode::kTunnel:
      return "tunnel";
    case Mode::kTransport:
      return "transport";
  }
  return "invalid-mode";
}

std::string_view ToString(Algorithm alg) {
  switch (alg) {
    case Algorithm::kGcm:
      return "rfc4106(gcm(aes))";
    case Algorithm::kGmac:
      return "rfc4543(gcm(aes))";
  }
  return "invalid-algorithm";
}

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty()) return MakeError(Errc::kParse, "address: empty");
  if (text.size() > kMaxAddressText) {
    return MakeError(Errc::kParse, "address: too long to be an IP address (" +
                                       std::to_string(text.size()) + " characters)");
  }
  const std::string z(text);  // inet_pton needs a NUL-terminated string
  IpAddress out;
  if (text.find(':') == std::string_view::npos) {
    std::array<std::uint8_t, 4> v4{};
    if (inet_pton(AF_INET, z.c_str(), v4.data()) != 1) {
      return MakeError(Errc::kParse, "address: '" + z + "' is not a dotted IPv4 address");
    }
    std::copy(v4.begin(), v4.end(), out.bytes.begin());
    out.v6 = false;
    return out;
  }
  if (inet_pton(AF_INET6, z.c_str(), out.bytes.data()) != 1) {
    return MakeError(Errc::kParse, "address: '" + z + "' is not an IPv6 address");
  }
  out.v6 = true;
  return out;
}

std::string IpAddress::ToString() const {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const char* s = inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf.data(),
                            static_cast<socklen_t>(buf.size()));
  return s == nullptr ? std::string("<invalid address>") : std::string(s);
}

SaConfig SaConfig::Clone() const {
  SaConfig out;
  out.spi = spi;
  out.dir = dir;
  out.mode = mode;
  out.src = src;
  out.dst = dst;
  out.alg = alg;
  out.key = key.Clone();
  out.icv_bytes = icv_bytes;
  out.esn = esn;
  out.oseq = oseq;
  out.replay_window = replay_window;
  out.replay_seq = replay_seq;
  out.encap = encap;
  out.limits = limits;
  return out;
}

Status Validate(const SaConfig& sa) {
  if (sa.spi == 0) return InvalidArgument("spi: must not be 0 (RFC 4303 reserves SPI 0)");
  if (sa.dir != Direction::kOut && sa.dir != Direction::kIn) {
    return InvalidArgument("dir: invalid value " + std::to_string(static_cast<int>(sa.dir)));
  }
  if (sa.mode != Mode::kTunnel && sa.mode != Mode::kTransport) {
    return InvalidArgument("mode: invalid value " + std::to_string(static_cast<int>(sa.mode)));
  }
  if (sa.alg != Algorithm::kGcm && sa.alg != Algorithm::kGmac) {
    return InvalidArgument("aead: invalid algorithm " + std::to_string(static_cast<int>(sa.alg)));
  }
  const std::size_t key_size = sa.key.key_and_salt().size();
  if (key_size != 20 && key_size != 36) {
    return InvalidArgument("key: expected 20 or 36 bytes, got " + std::to_string(key_size));
  }
  if (sa.icv_bytes != 8 && sa.icv_bytes != 12 && sa.icv_bytes != 16) {
    return InvalidArgument("icv: expected 8, 12 or 16 bytes, got " + std::to_string(sa.icv_bytes));
  }
  if (sa.alg == Algorithm::kGmac && sa.icv_bytes != 16) {
    return InvalidArgument("icv: rfc4543(gcm(aes)) requires a 16-byte ICV (128 bits), got " +
                           std::to_string(sa.icv_bytes) + " bytes");
  }
  if (sa.src.v6 != sa.dst.v6) {
    return InvalidArgument(std::string("dst: address family differs from src (src ") +
                           (sa.src.v6 ? "IPv6" : "IPv4") + ", dst " +
                           (sa.dst.v6 ? "IPv6" : "IPv4") + ")");
  }
  // w & (w - 1) rather than std::has_single_bit: without -mpopcnt that is a libgcc call, and
  // Validate runs twice per SA install (engine and device).
  if (sa.replay_window != 0 &&
      (sa.replay_window > kMaxReplayWindow || (sa.replay_window & (sa.replay_window - 1)) != 0)) {
    return InvalidArgument("replay-window: " + std::to_string(sa.replay_window) +
                           " is not 0 or a power of two <= 1024");
  }
  if (sa.replay_window == 0 && sa.esn) {
    return InvalidArgument("replay-window: 0 (no replay check) is not allowed with esn");
  }
  if (sa.dir == Direction::kIn && sa.oseq != 0) {
    return InvalidArgument("oseq: only valid for dir out, got " + std::to_string(sa.oseq));
  }
  if (sa.dir == Direction::kOut && sa.replay_seq != 0) {
    return InvalidArgument("replay-seq: only valid for dir in, got " +
                           std::to_string(sa.replay_seq));
  }
  if (!sa.esn && sa.oseq >= kMaxSeq32) {
    return InvalidArgument("oseq: " + std::to_string(sa.oseq) +
                           " leaves no usable sequence number without esn (must be < 4294967295)");
  }
  if (sa.esn && sa.oseq >= kMaxSeq64) {
    return InvalidArgument("oseq: " + std::to_string(sa.oseq) +
                           " leaves no usable sequence number (must be < 2^64-1)");
  }
  if (!sa.esn && sa.replay_seq > kMaxSeq32) {
    return InvalidArgument("replay-seq: " + std::to_string(sa.replay_seq) +
                           " does not fit 32 bits without esn (must be < 4294967296)");
  }
  if (sa.encap && (sa.encap->sport == 0 || sa.encap->dport == 0)) {
    return InvalidArgument("encap: port 0 is not allowed (sport " +
                           std::to_string(sa.encap->sport) + ", dport " +
                           std::to_string(sa.encap->dport) + ")");
  }
  const SaLimits& l = sa.limits;
  if (l.soft_packets != 0 && l.hard_packets != 0 && l.soft_packets >= l.hard_packets) {
    return InvalidArgument("soft-packets: " + std::to_string(l.soft_packets) +
                           " must be below hard-packets " + std::to_string(l.hard_packets));
  }
  if (l.soft_bytes != 0 && l.hard_bytes != 0 && l.soft_bytes >= l.hard_bytes) {
    return InvalidArgument("soft-bytes: " + std::to_string(l.soft_bytes) +
                           " must be below hard-bytes " + std::to_string(l.hard_bytes));
  }
  return Ok();
}

}  // namespace espo::driver
