// SPDX-License-Identifier: Apache-2.0
//
// Private to esp.cpp / esp_inbound.cpp: the RFC 4106 / RFC 4543 AAD, nonce and ICV computations.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "espo/driver/bytes.hpp"
#include "espo/driver/gcm_reference.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver::esp_internal {

// RFC 4106 5: SPI || seq_low (8 bytes) or SPI || seq_high || seq_low (12 bytes, ESN).
struct EspAad {
  std::array<std::uint8_t, 12> bytes{};
  std::size_t size = 0;
  ByteSpan span() const { return {bytes.data(), size}; }
};
EspAad MakeAad(std::uint32_t spi, std::uint64_t seq, bool esn);

// Nonce = salt(4) || IV(8).
std::array<std::uint8_t, kGcmIvBytes> MakeNonce(ByteSpan salt, ByteSpan iv);

// Seals `plaintext` (payload || padding || Pad Length || Next Header) for `sa`.
// GCM: returns ciphertext || ICV(k). GMAC: returns plaintext || ICV(16), tag over AAD || IV || pt.
Result<Bytes> SealEspBody(const SaConfig& sa, const EspAad& aad, ByteSpan iv, ByteSpan plaintext);

// Verifies and opens `body` (ciphertext || ICV). Returns the decrypted span (payload .. Next
// Header) or Errc::kAuth; the ICV compare is CRYPTO_memcmp. Temporary plaintext is cleansed on
// failure.
Result<Bytes> OpenEspBody(const SaConfig& sa, const EspAad& aad, ByteSpan iv, ByteSpan body);

// Cleanses a buffer when it goes out of scope (plaintext that must not linger).
class CleansingGuard {
 public:
  explicit CleansingGuard(Bytes& buffer) : buffer_(buffer) {}
  ~CleansingGuard();
  CleansingGuard(const CleansingGuard&) = delete;
  CleansingGuard& operator=(const CleansingGuard&) = delete;
  CleansingGuard(CleansingGuard&&) = delete;
  CleansingGuard& operator=(CleansingGuard&&) = delete;

 private:
  Bytes& buffer_;
};

}  // namespace espo::driver::esp_internal
