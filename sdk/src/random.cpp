// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/random.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace espo::sdk {

std::uint64_t Rng::Uniform(std::uint64_t lo, std::uint64_t hi) {
  if (lo > hi) std::swap(lo, hi);
  const std::uint64_t span = hi - lo;
  if (span == std::numeric_limits<std::uint64_t>::max()) return NextU64();
  const std::uint64_t bound = span + 1;
  // Reject the lowest (2^64 mod bound) values so that every residue is equally likely.
  const std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t r = NextU64();
    if (r >= threshold) return lo + r % bound;
  }
}

double Rng::UniformReal() {
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53
  return static_cast<double>(NextU64() >> 11U) * kScale;
}

Status CryptoRng::CheckAvailable() {
  std::array<std::uint8_t, 8> probe{};
  if (RAND_status() != 1 || RAND_bytes(probe.data(), static_cast<int>(probe.size())) != 1) {
    return MakeError(Errc::kCrypto, "CryptoRng: OpenSSL RAND_bytes is not seeded or failed");
  }
  OPENSSL_cleanse(probe.data(), probe.size());
  return Ok();
}

CryptoRng::~CryptoRng() { OPENSSL_cleanse(buffer_.data(), buffer_.size()); }

std::uint64_t CryptoRng::NextU64() {
  if (used_ + sizeof(std::uint64_t) > buffer_.size()) {
    if (RAND_bytes(buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      // NOLINTNEXTLINE(cert-err33-c): nothing useful to do if stderr fails right before abort
      std::fputs("espo: fatal: OpenSSL RAND_bytes failed in CryptoRng\n", stderr);
      std::abort();
    }
    used_ = 0;
  }
  std::uint64_t value = 0;
  std::memcpy(&value, buffer_.data() + used_, sizeof(value));
  OPENSSL_cleanse(buffer_.data() + used_, sizeof(value));
  used_ += sizeof(value);
  return value;
}

}  // namespace espo::sdk
