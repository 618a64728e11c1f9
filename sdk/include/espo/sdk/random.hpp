// SPDX-License-Identifier: Apache-2.0
//
// Injected randomness (STYLE.md section 4). Every random choice in the SDK (lifetime fuzz, rekey
// values, SPI bits) is drawn from an `Rng&` passed in by the caller: `CryptoRng` (OpenSSL
// RAND_bytes) in production, `SeededRng` (std::mt19937_64, seeded with the test seed) in tests and
// simulations. The distributions below are implemented here, not with <random>'s distributions,
// so that a seed replays the same draws with every standard library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>

#include "espo/driver/result.hpp"

namespace espo::sdk {

// A source of uniform 64-bit words plus the derived distributions the SDK needs. Not thread-safe:
// one owner (or external locking). Also a std::uniform_random_bit_generator, so tests may use it
// with <random> distributions.
class Rng {
 public:
  using result_type = std::uint64_t;  // NOLINT(readability-identifier-naming): std concept

  Rng() = default;
  virtual ~Rng() = default;
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
  Rng(Rng&&) = delete;
  Rng& operator=(Rng&&) = delete;

  // A uniformly distributed 64-bit word.
  virtual std::uint64_t NextU64() = 0;

  // Uniform integer in [lo, hi] (both inclusive, unbiased: rejection sampling). lo > hi is
  // treated as the swapped pair.
  std::uint64_t Uniform(std::uint64_t lo, std::uint64_t hi);
  // Uniform real in [0, 1) with 53 random bits.
  double UniformReal();
  // Uniform real in [lo, hi).
  double UniformReal(double lo, double hi) { return lo + (hi - lo) * UniformReal(); }

  static constexpr result_type min() { return 0; }  // NOLINT(readability-identifier-naming)
  static constexpr result_type max() {              // NOLINT(readability-identifier-naming)
    return std::numeric_limits<result_type>::max();
  }
  result_type operator()() { return NextU64(); }
};

// Deterministic: std::mt19937_64 seeded with `seed` (the same seed gives the same sequence on
// every platform). For tests and simulations only: never for SPIs or keys in production.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t NextU64() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// OpenSSL RAND_bytes (the process's DRBG), buffered 256 bytes at a time. A later RAND_bytes failure
// cannot be turned into a value (NextU64 has no error channel) and continuing with predictable
// numbers would be worse, so it is fatal like std::bad_alloc: a message on stderr, then
// std::abort(). Call CheckAvailable() once at start-up to turn an unseeded DRBG into an error value
// instead. The buffer is wiped on destruction.
class CryptoRng final : public Rng {
 public:
  // Fails with Errc::kCrypto when OpenSSL's DRBG cannot produce output.
  static Status CheckAvailable();
  CryptoRng() = default;
  ~CryptoRng() override;
  CryptoRng(const CryptoRng&) = delete;
  CryptoRng& operator=(const CryptoRng&) = delete;
  CryptoRng(CryptoRng&&) = delete;
  CryptoRng& operator=(CryptoRng&&) = delete;
  std::uint64_t NextU64() override;

 private:
  std::array<std::uint8_t, 256> buffer_{};
  std::size_t used_ = buffer_.size();
};

}  // namespace espo::sdk
