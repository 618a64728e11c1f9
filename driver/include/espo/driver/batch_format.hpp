// SPDX-License-Identifier: Apache-2.0
//
// The packet-record format of a batch (docs/BUFFERS.md): a 16-byte little-endian header then
// the packet bytes, each record starting on a 16-byte boundary. Shared by Engine (host side),
// ModelDevice and the RTL tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "espo/driver/bytes.hpp"

namespace espo::driver {

inline constexpr std::size_t kRecordHeaderBytes = 16;
// Largest growth of a packet through outbound processing: outer IPv6 (40) + UDP (8) + ESP
// header and IV (16) + padding (3) + trailer (2) + ICV (16) = 85, rounded up.
inline constexpr std::size_t kMaxExpansionBytes = 96;
inline constexpr std::uint16_t kNoSlot = 0xFFFF;

// Result status of one record (BUFFERS.md). 1..5 are the drop reasons of SPEC 12.2.
enum class PacketStatus : std::uint8_t {
  kOk = 0,
  kAuth = 1,
  kReplay = 2,
  kNoSa = 3,
  kMalformed = 4,
  kLifetime = 5,
  kTooBig = 6,
  kNotEsp = 7,
};
std::string_view ToString(PacketStatus status);
inline bool IsDrop(PacketStatus s) {
  return s >= PacketStatus::kAuth && s <= PacketStatus::kLifetime;
}

struct RecordHeader {
  std::uint16_t length = 0;
  std::uint16_t slot = kNoSlot;
  std::uint8_t dir = 0;     // 0 out, 1 in
  std::uint8_t status = 0;  // result records: PacketStatus; input records: flags (0)
  std::uint32_t cookie = 0;
  std::uint32_t seq_lo = 0;  // result records only
};

constexpr std::size_t PadTo16(std::size_t n) { return (n + 15) / 16 * 16; }
// The output space the engine requires before it processes an input record of `length` bytes.
constexpr std::size_t MaxResultRecordBytes(std::size_t length) {
  return kRecordHeaderBytes + PadTo16(length + kMaxExpansionBytes);
}

inline RecordHeader DecodeRecordHeader(ByteSpan b) {
  auto le16 = [&](std::size_t i) {
    return static_cast<std::uint16_t>(b[i] | (static_cast<std::uint16_t>(b[i + 1]) << 8U));
  };
  auto le32 = [&](std::size_t i) {
    return static_cast<std::uint32_t>(le16(i)) | (static_cast<std::uint32_t>(le16(i + 2)) << 16U);
  };
  return RecordHeader{le16(0), le16(2), b[4], b[5], le32(8), le32(12)};
}

inline void EncodeRecordHeader(const RecordHeader& h, MutableByteSpan b) {
  auto le16 = [&](std::size_t i, std::uint16_t v) {
    b[i] = static_cast<std::uint8_t>(v);
    b[i + 1] = static_cast<std::uint8_t>(v >> 8U);
  };
  auto le32 = [&](std::size_t i, std::uint32_t v) {
    le16(i, static_cast<std::uint16_t>(v));
    le16(i + 2, static_cast<std::uint16_t>(v >> 16U));
  };
  le16(0, h.length);
  le16(2, h.slot);
  b[4] = h.dir;
  b[5] = h.status;
  le16(6, 0);
  le32(8, h.cookie);
  le32(12, h.seq_lo);
}

}  // namespace espo::driver
