// SPDX-License-Identifier: Apache-2.0
//
// AES-GCM through OpenSSL EVP: the seed of the reference model, and the oracle the RTL core is
// checked against. Thread-compatible (no shared state); each call owns its EVP context.
#pragma once

#include <array>
#include <cstdint>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

inline constexpr std::size_t kGcmTagBytes = 16;
inline constexpr std::size_t kGcmIvBytes = 12;
using GcmTag = std::array<std::uint8_t, kGcmTagBytes>;
using AesBlock = std::array<std::uint8_t, 16>;

struct GcmSealed {
  Bytes ciphertext;
  GcmTag tag{};
};

// GCM-AE with a 96-bit IV. `key` is 16 or 32 bytes (24 is accepted too: OpenSSL supports it).
Result<GcmSealed> GcmSeal(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext);

// GCM-AD. `tag` may be truncated (8, 12 or 16 bytes: ESP ICVs). Returns Errc::kAuth when the
// tag does not verify; no plaintext is returned in that case.
Result<Bytes> GcmOpen(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext, ByteSpan tag);

// One AES block in ECB: H = AesEncryptBlock(key, 0^128).
Result<AesBlock> AesEncryptBlock(ByteSpan key, const AesBlock& block);

}  // namespace espo::driver
