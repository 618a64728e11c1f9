// SPDX-License-Identifier: Apache-2.0
//
// Byte helpers: big-endian loads/stores and hex conversion. Byte order is always explicit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "espo/driver/result.hpp"

namespace espo {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
using MutableByteSpan = std::span<std::uint8_t>;

inline std::uint16_t LoadBe16(ByteSpan p) {
  return static_cast<std::uint16_t>((p[0] << 8U) | p[1]);
}
inline std::uint32_t LoadBe32(ByteSpan p) {
  return (static_cast<std::uint32_t>(p[0]) << 24U) | (static_cast<std::uint32_t>(p[1]) << 16U) |
         (static_cast<std::uint32_t>(p[2]) << 8U) | static_cast<std::uint32_t>(p[3]);
}
inline std::uint64_t LoadBe64(ByteSpan p) {
  return (static_cast<std::uint64_t>(LoadBe32(p)) << 32U) | LoadBe32(p.subspan(4));
}
inline void StoreBe16(MutableByteSpan p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8U);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void StoreBe32(MutableByteSpan p, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24U - 8U * i));
}
inline void StoreBe64(MutableByteSpan p, std::uint64_t v) {
  StoreBe32(p, static_cast<std::uint32_t>(v >> 32U));
  StoreBe32(p.subspan(4), static_cast<std::uint32_t>(v));
}

// Lowercase hex of `data`.
std::string ToHex(ByteSpan data);
// Parses hex (even length, optional "0x" prefix); the error names `what`.
Result<Bytes> FromHex(std::string_view hex, std::string_view what = "hex");

}  // namespace espo
