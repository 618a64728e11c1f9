// SPDX-License-Identifier: Apache-2.0
//
// TestSeed(): ESPO_SEED if set, else a fresh random seed; printed as "[   SEED   ] ESPO_SEED=<n>"
// and recorded in the XML report so any randomized failure can be replayed.
// SoakFactor(): ESPO_SOAK (default 1) scales iteration counts for long runs outside CI.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace espo::testing {

inline std::uint64_t TestSeed() {
  std::uint64_t seed = 0;
  const char* env = std::getenv("ESPO_SEED");  // NOLINT(concurrency-mt-unsafe): test setup
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32U) ^ rd();
  }
  std::cout << "[   SEED   ] ESPO_SEED=" << seed << std::endl;
  ::testing::Test::RecordProperty("espo_seed", std::to_string(seed));
  return seed;
}

inline int SoakFactor() {
  const char* env = std::getenv("ESPO_SOAK");  // NOLINT(concurrency-mt-unsafe): test setup
  if (env == nullptr || *env == '\0') return 1;
  const long value = std::strtol(env, nullptr, 10);  // NOLINT(google-runtime-int): strtol API
  return value > 0 ? static_cast<int>(value) : 1;
}

}  // namespace espo::testing
